"""Re-evaluate a finished run from its config.yaml and weights, with the paradigm's own metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning_fabric import Fabric

from dlzoo.runs import RunDir
from dlzoo.tasks import make_task
from dlzoo.tasks.base import Context


def evaluate_run(path: Path | str, *, split: str = "test") -> dict[str, Any]:
    """Load data as the run did, rebuild the model, load model.safetensors, evaluate ``split``."""
    run = RunDir(Path(path))
    cfg = run.read_config()
    from dlzoo.registry import get_spec

    spec = get_spec(cfg.model_name)
    fabric = Fabric(accelerator="cpu", devices=1)
    fabric.seed_everything(cfg.train.seed, verbose=False)
    task = make_task(Context(spec, cfg, fabric))
    task.setup()
    run.load_weights(task.model)
    return task.evaluate(split, final=True)
