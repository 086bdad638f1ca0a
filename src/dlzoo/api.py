"""``dlzoo.train``: train a registered model from Python, as ``dlzoo train`` does from the shell.

run = dlzoo.train("mlp_classifier", preset="tiny", overrides=["train.lr=0.01"], runs_dir="runs")
run.path                    # runs/mlp_classifier/<timestamp>/
run.metrics["test/accuracy"]
dlzoo.load_run(run.path)    # the trained model, rebuilt from config.yaml + model.safetensors
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlzoo.config import RunConfig, resolve_config
from dlzoo.runs import RunDir, RunError, default_run_name


@dataclass(frozen=True)
class TrainResult:
    """What a finished run left behind: its directory, its final metrics and its resolved config."""

    path: Path  # runs_dir/<model>/<name>/: config.yaml, metrics.jsonl, eval.json, model.safetensors, ...
    metrics: dict[str, Any]  # eval.json: test metrics ("test/accuracy", ...), seed, wall time, hardware
    config: RunConfig  # the fully resolved config (what config.yaml holds)


def train(
    model: str,
    /,
    *,
    preset: str = "default",
    overrides: Sequence[str] = (),
    data: str | None = None,
    runs_dir: str | Path = "runs",
    name: str | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train ``model`` (a registry name, see ``dlzoo.list_models()``) into a new run directory.

    Args:
        model: registered model name, e.g. ``"mlp_classifier"``.
        preset: one of the model's presets (``dlzoo info MODEL`` lists them); ``"tiny"`` trains in seconds.
        overrides: dotted ``section.key=value`` settings applied after the preset,
            e.g. ``["train.lr=3e-4", "model.hidden=[512,512]"]``; values are parsed as YAML.
        data: another dataset (or environment) than the preset's, with that loader's defaults.
        runs_dir: root folder; the run goes to ``runs_dir/<model>/<name>/``.
        name: run directory name (default: a UTC timestamp).
        resume: continue the run ``name`` from its last checkpoint, with its saved config
            (``preset``, ``overrides`` and ``data`` must then be left at their defaults).

    Returns:
        TrainResult with the run path, the final metrics (eval.json) and the resolved config.

    Raises:
        ConfigError / RegistryError: an unknown model, preset, dataset or key (the message lists the
            valid ones), before anything is written.
        RunExistsError: ``name`` already holds a run and ``resume`` is false.
    """
    from dlzoo.training import train_run  # the loop imports torch and Fabric: only when training

    run = RunDir.create(runs_dir, model, name or default_run_name())
    if resume:
        if name is None or not run.config_path.is_file():
            raise RunError(f"resume: {run.path} has no run to resume (pass the name of an existing run)")
        if overrides or data is not None or preset != "default":
            raise RunError("resume continues a run with its saved config.yaml: no preset, overrides or data")
        cfg = run.read_config()
    else:
        cfg = resolve_config(model, preset=preset, overrides=list(overrides), data=data)
    metrics = train_run(cfg, run, resume=resume)
    return TrainResult(path=run.path, metrics=metrics, config=cfg)
