"""The run directory, the one format every family writes and every consumer reads::

    runs/<model>/<run-name>/
      config.yaml            fully resolved RunConfig (data facts under `info`)
      metrics.jsonl          one JSON object per logged step: {"step", "round", "time", "split/metric": value}
      eval.json              final metrics + dataset name, version and split
      model.safetensors      the weights (buffers included), loadable without running code
      checkpoints/last.ckpt  full state for resume (torch.save; loaded with weights_only=True)
      card.md                model card
      plots/*.png            learning curves and family plots

Everything is written atomically (temporary file + os.replace), so a killed run never leaves a
half-written file. ``load_model(run)`` rebuilds the model from config.yaml and the weights alone.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from dlzoo.config import ConfigError, RunConfig
from dlzoo.registry import ModelSpec, create_model, get_spec


class RunError(ValueError):
    """A run directory that is missing pieces or does not match its config."""


class RunExistsError(FileExistsError):
    """The run directory already holds a run, and resume was not asked for."""


class TrainingDiverged(RuntimeError):
    """A training loss became NaN or infinite; the checkpoint of the last good round is kept."""


#: what every checkpoint holds (training/loop.py writes it)
CHECKPOINT_KEYS = frozenset({"model", "task", "rng", "round", "step", "wall_time_s"})


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, fsync it, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as e:
        raise disk_error(path, e) or e from None
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:
        raise disk_error(path, e) or e from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def disk_error(path: Path, e: BaseException) -> RunError | None:
    """A RunError saying the disk is full (naming ``path``) when ``e`` is one: an OSError ENOSPC/EDQUOT,
    or torch.save's ``enforce fail at inline_container`` (its zip writer's way of saying the write failed)."""
    full = isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)
    full = full or (isinstance(e, RuntimeError) and "inline_container" in str(e))
    if not full:
        return None
    return RunError(
        f"{path}: could not be written, the disk is full (no space left on device on {path.parent}); "
        "free some space, then continue with --resume"
    )


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text))


def default_run_name() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def create(cls, root: Path | str, model: str, name: str | None = None) -> RunDir:
        """``root/model/name``; a name (or model) that would leave ``root`` is a RunError."""
        name = default_run_name() if name is None else name
        for what, part in (("model name", model), ("run name (--name)", name)):
            if not part or part in (".", "..") or ".." in part or any(sep in part for sep in ("/", "\\", os.sep)):
                raise RunError(
                    f"{what} {part!r}: expected a plain folder name inside the runs folder, without /, \\ or .."
                )
        return cls(Path(root) / model / name)

    def remove_stale_temp_files(self) -> list[Path]:
        """Delete the temporary files atomic_write leaves when a process is killed mid-write
        (``.<file>.<random>`` next to each file of the run); returns what was removed."""
        removed = []
        folders = [self.path, self.checkpoint_path.parent, self.plots_dir]
        names = {p.name for p in (self.config_path, self.metrics_path, self.eval_path, self.weights_path)}
        names |= {self.checkpoint_path.name, self.card_path.name}
        for folder in folders:
            if not folder.is_dir():
                continue
            for f in folder.iterdir():
                stem, dot, suffix = f.name[1:].rpartition(".")
                ours = stem in names or (folder == self.plots_dir and stem.endswith(".png"))
                if f.name.startswith(".") and dot and len(suffix) == 8 and ours and f.is_file():
                    f.unlink(missing_ok=True)
                    removed.append(f)
        return removed

    config_path = property(lambda self: self.path / "config.yaml")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    eval_path = property(lambda self: self.path / "eval.json")
    weights_path = property(lambda self: self.path / "model.safetensors")
    checkpoint_path = property(lambda self: self.path / "checkpoints" / "last.ckpt")
    card_path = property(lambda self: self.path / "card.md")
    plots_dir = property(lambda self: self.path / "plots")

    # -- config -------------------------------------------------------------------------------
    def write_config(self, cfg: RunConfig) -> None:
        atomic_write_text(self.config_path, cfg.to_yaml())

    def read_config(self) -> RunConfig:
        if not self.config_path.is_file():
            raise RunError(f"{self.path}: not a run directory (no config.yaml)")
        return RunConfig.from_yaml(self.config_path.read_text(), source=str(self.config_path))

    # -- weights ------------------------------------------------------------------------------
    def save_weights(self, model: nn.Module) -> None:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        atomic_write(self.weights_path, lambda p: save_file(state, str(p)))

    def load_weights(self, model: nn.Module) -> nn.Module:
        if not self.weights_path.is_file():
            raise RunError(f"{self.path}: no model.safetensors (did training finish?)")
        try:
            state = load_file(str(self.weights_path))
        except Exception:  # safetensors' own error type (a header it cannot read), OSError, ...
            raise RunError(
                f"{self.weights_path}: damaged or not a safetensors file (expected the weights training wrote); "
                "train the run again (`dlzoo train ... --resume --name <run>` rewrites it from the checkpoint)"
            ) from None
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            raise RunError(f"{self.weights_path}: weights do not match config.yaml ({e})") from None
        return model

    # -- checkpoints --------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        atomic_write(self.checkpoint_path, lambda p: torch.save(state, p))

    def load_checkpoint(self) -> dict[str, Any] | None:
        if not self.checkpoint_path.is_file():
            return None
        try:
            state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        except Exception:  # truncated, garbage or foreign: torch's message would suggest unsafe loading
            state = None
        if not isinstance(state, dict) or not set(state) >= CHECKPOINT_KEYS:
            raise RunError(
                f"{self.checkpoint_path}: the checkpoint is damaged (cut short or not written by dlzoo) and cannot "
                f"be resumed; start over with a new --name, or delete {self.path} and train again"
            )
        return state

    # -- metrics ------------------------------------------------------------------------------
    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        rows = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill: everything after it is stale anyway
                break
        return rows

    def truncate_metrics(self, *, through_round: int) -> None:
        """Keep the lines of rounds <= through_round (resume replays the rest)."""
        rows = [r for r in self.read_metrics() if r.get("round", -1) <= through_round]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))

    def write_eval(self, metrics: dict[str, Any]) -> None:
        atomic_write_text(self.eval_path, json.dumps(metrics, indent=2) + "\n")

    def read_eval(self) -> dict[str, Any]:
        if not self.eval_path.is_file():
            raise RunError(f"{self.path}: no eval.json")
        return json.loads(self.eval_path.read_text())


def find_runs(root: Path | str) -> Iterator[RunDir]:
    """Every finished run (config.yaml + model.safetensors) under ``root``, sorted by path."""
    for cfg in sorted(Path(root).glob("**/config.yaml")):
        run = RunDir(cfg.parent)
        if run.weights_path.is_file():
            yield run


@dataclass
class LoadedRun:
    """A model rebuilt from a run directory, in eval mode, ready for inference."""

    run: RunDir
    config: RunConfig
    spec: ModelSpec
    model: nn.Module


def load_run(path: Path | str) -> LoadedRun:
    """Rebuild the model from ``config.yaml`` and ``model.safetensors`` alone."""
    run = RunDir(Path(path))
    try:
        cfg = run.read_config()
    except ConfigError as e:
        raise RunError(str(e)) from None
    spec = get_spec(cfg.model_name)
    model = create_model(spec.name, **cfg.model_args())
    run.load_weights(model)
    return LoadedRun(run, cfg, spec, model.eval())
