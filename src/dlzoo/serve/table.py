"""The served models: every finished run under a folder, loaded once, under its names.

``ModelTable`` scans the folder (and again on reload), ``Served`` is one loaded run with its names,
verbs and micro-batchers, ``plots_of`` lists the figures a run's card may hand out.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from collections.abc import Callable

from dlzoo import inference
from dlzoo.registry import ModelSpec, choices_error
from dlzoo.runs import LoadedRun, RunDir, RunError, find_runs, load_run
from dlzoo.serve import onnx_runs
from dlzoo.serve.rows import prepare as prepare_rows
from dlzoo.serve.batching import BatchConfig, MicroBatcher
from dlzoo.serve.guard import APIError
from dlzoo.serve.schemas import ModelInfo, SkippedRun

log = logging.getLogger("dlzoo.serve")
PLOT_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.png$"  # a plot's file name: no separators, no leading dot


def verbs_for(spec: ModelSpec) -> tuple[str, ...]:
    """The POST verbs a model serves: ``predict`` for classify/regress models, then its pipeline's tensor
    verbs (``pipeline.verbs``) and the verbs it answers with request bodies of its own (``pipeline.requests``)."""
    base = ("predict",) if spec.task in ("classify", "regress") else ()
    return tuple(dict.fromkeys((*base, *spec.pipeline.verbs, *inference.requests_of(spec))))


# -- the served models --------------------------------------------------------------------------


@dataclass
class Served:
    """One loaded run, its names and its batchers (one per input verb)."""

    name: str  # canonical: <model>@<run>
    loaded: LoadedRun | onnx_runs.OnnxRun  # an OnnxRun: a folder with serving.yaml, run by onnxruntime
    verbs: tuple[str, ...]
    metrics: dict[str, float | None]
    mtime: float
    info: ModelInfo | None = None
    batchers: dict[str, MicroBatcher] = field(default_factory=dict)

    def batcher(self, verb: str, config: BatchConfig, on_batch: Callable[[int], None] | None = None) -> MicroBatcher:
        if verb not in self.batchers and isinstance(self.loaded, onnx_runs.OnnxRun):
            self.batchers[verb] = self.loaded.batcher(config, name=f"{self.name}/{verb}")
        if verb not in self.batchers:
            loaded = self.loaded
            run = {
                "predict": lambda x: inference.predict(loaded, x),
                "reconstruct": lambda x: {"reconstructions": inference.reconstruct(loaded, x).tolist()},
                "act": lambda x: {"actions": inference.act(loaded, x)},
            }[verb]
            self.batchers[verb] = MicroBatcher(
                prepare=partial(prepare_rows, loaded), run=run, config=config, name=f"{self.name}/{verb}"
            )
        self.batchers[verb].on_batch = on_batch
        return self.batchers[verb]

    def close(self) -> None:
        for b in self.batchers.values():
            b.close()


class ModelTable:
    """Every finished run under ``root``, loaded once; broken ones are listed, never fatal.

    ``reload()`` scans the folder again: runs trained since are loaded, runs whose weights changed are
    reloaded, runs that are gone stop being served; the others keep their loaded model. ``version``
    goes up by one each time a scan changes what is served (added, reloaded, removed) or skipped.
    """

    def __init__(self, root: Path | str, *, batching: BatchConfig, runtime: str = "pytorch") -> None:
        self.root = Path(root)
        self.runtime = runtime  # pytorch | onnx | fastest: who answers predict where a run has an ONNX export
        if not self.root.is_dir():
            raise RunError(f"{self.root}: no such folder (give the folder that holds run directories, e.g. runs/)")
        self.batching = batching
        self.runs: dict[str, Served] = {}  # <model>@<run> -> served
        self.latest: dict[str, str] = {}  # <model> -> <model>@<run> of its newest run
        self.skipped: list[SkippedRun] = []
        self.version = 0
        self._lock = threading.Lock()  # one scan at a time
        self.reload()

    def reload(self) -> dict[str, Any]:
        """Scan the folder again and swap in what it holds; returns the version and what changed."""
        with self._lock:
            known = {s.loaded.run.path: s for s in self.runs.values()}
            runs, skipped = self._scan(known)
            latest = _assign_names(runs)
            added, removed = sorted(set(runs) - set(self.runs)), sorted(set(self.runs) - set(runs))
            reloaded = sorted(n for n in set(runs) & set(self.runs) if runs[n] is not self.runs[n])
            kept = {id(s) for s in runs.values()}
            gone = [s for s in self.runs.values() if id(s) not in kept]  # removed, or replaced by new weights
            was_skipped = [(s.path, s.error) for s in self.skipped]
            self.runs, self.latest, self.skipped = runs, latest, skipped
            if added or removed or reloaded or [(s.path, s.error) for s in skipped] != was_skipped:
                self.version += 1
            for s in gone:
                s.close()
            self._announce(added=added, removed=removed, reloaded=reloaded)
            return {
                "version": self.version,
                "added": added,
                "reloaded": reloaded,
                "removed": removed,
                "skipped": len(skipped),
            }

    def _scan(self, known: dict[Path, Served]) -> tuple[dict[str, Served], list[SkippedRun]]:
        runs: dict[str, Served] = {}
        skipped: list[SkippedRun] = []
        finished = list(find_runs(self.root))
        # (run folder, the file whose change means "load again", loader)
        loaders = [(run.path, run.weights_path, partial(self._load_one, run)) for run in finished]
        loaders += [
            (path, path / onnx_runs.SERVING_FILE, partial(self._load_onnx, path))
            for path in onnx_runs.find_onnx_runs(self.root)
        ]
        for path, stamp, load in loaders:
            try:
                served = known.get(path)
                if served is None or served.mtime != stamp.stat().st_mtime:
                    served = load()
            except Exception as e:  # any broken run: skip it, keep serving the others
                skipped.append(self._skip(path, f"{type(e).__name__}: {e}"))
                continue
            if served.name in runs:
                first = self._rel(runs[served.name].loaded.run.path)
                skipped.append(self._skip(path, f"duplicate name {served.name} (already served from {first})"))
                continue
            runs[served.name] = served
        done = {r.path for r in finished}
        for cfg in sorted(self.root.glob("**/config.yaml")):
            if cfg.parent not in done:
                skipped.append(self._skip(cfg.parent, "not finished: no model.safetensors yet"))
        return runs, skipped

    def _announce(self, *, added: list[str], removed: list[str], reloaded: list[str]) -> None:
        """Log lines: what is served (model@run, its names, its verbs), what was skipped and why."""
        for name in [*added, *reloaded]:
            s = self.runs[name]
            verbs = ", ".join(s.verbs) or "no inference verb"
            also = [a for a in (s.info.aliases if s.info else []) if a != name]
            again = " (new weights)" if name in reloaded else ""
            log.info("serving %s%s%s: %s", name, f" (also as {', '.join(also)})" if also else "", again, verbs)
        for name in removed:
            log.info("no longer serving %s (its run directory is gone or was replaced)", name)
        for skip in self.skipped:
            log.warning("skipped %s: %s", skip.path, skip.error)
        log.info(
            "version %d: serving %d run(s) from %s; skipped %d",
            self.version,
            len(self.runs),
            self.root,
            len(self.skipped),
        )

    def _load_one(self, run: RunDir) -> Served:
        loaded = load_run(run.path)
        try:
            raw = run.read_eval()
        except (RunError, ValueError) as e:
            log.warning("%s: no usable eval.json (%s); serving without metrics", run.path, e)
            raw = {}
        metrics = {
            k: (float(v) if v == v and abs(v) != float("inf") else None)
            for k, v in raw.items()
            if "/" in k and isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        return Served(
            name=f"{loaded.spec.name}@{run.path.name}",
            loaded=self._runtime(loaded),
            verbs=verbs_for(loaded.spec),
            metrics=metrics,
            mtime=run.weights_path.stat().st_mtime,
        )

    def _runtime(self, loaded: LoadedRun) -> LoadedRun | onnx_runs.OnnxRun:
        """The run itself, or an onnxruntime session on its export (--runtime onnx, or fastest when faster)."""
        file = onnx_runs.export_of(loaded) if self.runtime != "pytorch" else None
        if file is None:
            return loaded
        onnx_run = onnx_runs.from_run(loaded, file)
        if self.runtime == "onnx":
            return onnx_run
        t = onnx_runs.time_both(loaded, onnx_run)
        pick = "onnx" if t["onnx"] < t["pytorch"] else "pytorch"
        log.info(
            "%s: one example in %.3f ms (PyTorch) vs %.3f ms (onnxruntime): serving through %s",
            loaded.run.path.name,
            1e3 * t["pytorch"],
            1e3 * t["onnx"],
            "onnxruntime" if pick == "onnx" else "PyTorch",
        )
        return onnx_run if pick == "onnx" else loaded

    def _load_onnx(self, path: Path) -> Served:
        run = onnx_runs.load_onnx_run(path)
        return Served(
            name=f"{run.spec.name}@{path.name}",
            loaded=run,
            verbs=("predict",),
            metrics=run.metrics,
            mtime=(path / onnx_runs.SERVING_FILE).stat().st_mtime,  # written after the export: the reload stamp
        )

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root)) or "."
        except ValueError:
            return str(path)

    def _skip(self, path: Path, error: str) -> SkippedRun:
        return SkippedRun(path=self._rel(path), error=error)

    def names(self) -> list[str]:
        return sorted(s.info.name for s in self.runs.values() if s.info is not None)

    def find(self, name: str) -> Served | None:
        return self.runs.get(self.latest.get(name, name))

    def resolve(self, name: str, verb: str | None = None) -> Served:
        served = self.find(name)
        if served is None:
            hint = (
                " (every run is also reachable as <model>@<run>; runs trained after the server started "
                "are served after POST /v1/reload)"
                if self.runs
                else f" (no runs under {self.root}; after training one, POST /v1/reload)"
            )
            raise APIError(404, choices_error("model", name, self.names()) + hint)
        if verb is not None and verb not in served.verbs:
            spec = served.loaded.spec
            serves = (
                f"it serves: {', '.join(served.verbs)} (POST /v1/models/{name}/{served.verbs[0]})"
                if served.verbs
                else "it serves no inference verb"
            )
            raise APIError(
                400, f"{served.name} is a {spec.task} model ({spec.family}) and does not serve '{verb}'; {serves}"
            )
        return served

    def close(self) -> None:
        for s in self.runs.values():
            s.close()


def _assign_names(runs: dict[str, Served]) -> dict[str, str]:
    """Give every run its info (short name, aliases, latest flag); returns <model> -> its newest run."""
    latest: dict[str, str] = {}
    by_model: dict[str, list[Served]] = {}
    for s in runs.values():
        by_model.setdefault(s.loaded.spec.name, []).append(s)
    for model, group in by_model.items():
        group.sort(key=lambda s: (s.mtime, s.name))
        latest[model] = group[-1].name
        for s in group:
            newest = s is group[-1]
            s.info = _model_info(
                s,
                short=model if len(group) == 1 else s.name,
                aliases=[s.name, model] if newest else [s.name],
                latest=newest,
            )
    return latest


def _model_info(s: Served, *, short: str, aliases: list[str], latest: bool) -> ModelInfo:
    spec, cfg = s.loaded.spec, s.loaded.config
    shape = cfg.info.get("input_shape")
    return ModelInfo(
        name=short,
        aliases=aliases,
        model=spec.name,
        run=s.loaded.run.path.name,
        latest=latest,
        family=spec.family,
        task=spec.task,
        paradigm=spec.paradigm,
        description=spec.description,
        input_shape=[int(d) for d in shape] if shape else None,
        class_names=cfg.info.get("class_names"),
        data=cfg.data.get("name"),
        metrics=s.metrics,
        verbs=list(s.verbs),
        runtime="onnxruntime" if isinstance(s.loaded, onnx_runs.OnnxRun) else "pytorch",
        bodies={verb: body.model_json_schema() for verb, body in inference.requests_of(spec).items()},
    )


def plots_of(run: RunDir) -> dict[str, Path]:
    """The run's figures: regular PNG files directly in its plots/ folder, with plain names (PLOT_NAME).
    Only these can be fetched: a name is looked up here, never joined onto a path."""
    folder = run.plots_dir
    if folder.is_symlink() or not folder.is_dir():  # a plots/ linked elsewhere is not the run's
        return {}
    return {
        p.name: p
        for p in sorted(folder.iterdir())
        if re.fullmatch(PLOT_NAME, p.name) and not p.is_symlink() and p.is_file()
    }
