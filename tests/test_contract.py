"""Contract tests generated from the registry: every model, through its tiny preset.

Each registered model must: build from its tiny preset's data, give finite outputs with the batch
dimension first, send a gradient to every parameter, be deterministic in eval mode, survive a
safetensors save/load, export with parity, and train end to end into a complete run directory
whose re-evaluation from config.yaml + weights reproduces eval.json.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from lightning_fabric import Fabric

from dlzoo.config import resolve_config
from dlzoo.registry import get_spec, list_models
from dlzoo.runs import RunDir, load_run
from dlzoo.tasks import make_task
from dlzoo.tasks.base import Context

MODELS = list_models()


def tiny_task(name: str):
    cfg = resolve_config(name, preset="tiny", overrides=["train.progress=false"])
    fabric = Fabric(accelerator="cpu", devices=1)
    fabric.seed_everything(0, verbose=False)
    task = make_task(Context(get_spec(name), cfg, fabric))
    task.setup()
    return task, cfg


def example_batch(task, n: int = 4) -> tuple[torch.Tensor, ...]:
    """forward's positional inputs for n examples, from the paradigm (tokens, graphs, observations, rows)."""
    return tuple(task.example_inputs(n))


def outputs(model: torch.nn.Module, x: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    out = model(*x)
    return list(out) if isinstance(out, (tuple, list)) else [out]


@pytest.fixture(scope="module", params=MODELS)
def built(request):
    return request.param, *tiny_task(request.param)


def test_forward_is_finite_and_batched(built) -> None:
    """n examples in, n rows out (example_inputs(n) means n examples: sequences, graphs, or nodes)."""
    name, task, _ = built
    n = 4
    x = example_batch(task, n)
    task.model.eval()
    with torch.no_grad():
        outs = outputs(task.model, x)
    for o in outs:
        assert o.shape[0] == n, f"{name}: output {tuple(o.shape)} does not keep the batch dimension ({n})"
        assert torch.isfinite(o).all(), f"{name}: non-finite output"


def test_every_parameter_gets_a_gradient(built) -> None:
    name, task, _ = built
    model = task.model.train()
    model.zero_grad(set_to_none=True)
    loss = sum(o.float().square().mean() for o in outputs(model, example_batch(task)))
    loss.backward()
    missing = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())
    ]
    assert not missing, f"{name}: no (finite) gradient for {missing}"
    assert any(float(p.grad.abs().sum()) > 0 for p in model.parameters()), f"{name}: all gradients are zero"


def test_eval_mode_is_deterministic(built) -> None:
    name, task, _ = built
    x = example_batch(task)
    task.model.eval()
    with torch.no_grad():
        a, b = outputs(task.model, x), outputs(task.model, x)
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, rtol=0, atol=0)


def test_save_load_roundtrip(built, tmp_path) -> None:
    name, task, cfg = built
    run = RunDir(tmp_path / name)
    run.write_config(cfg)
    run.save_weights(task.model)
    loaded = load_run(run.path)
    x = example_batch(task)
    task.model.eval()
    with torch.no_grad():
        for u, v in zip(outputs(task.model, x), outputs(loaded.model, x), strict=True):
            torch.testing.assert_close(u, v, rtol=0, atol=0)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_parity(built, tmp_path, fmt: str) -> None:
    export = pytest.importorskip("dlzoo.export")
    name, task, _ = built
    x = example_batch(task, n=3)
    check = [example_batch(task, n=5), example_batch(task, n=1)]
    report = export.export_model(
        task.model.eval(),
        x,
        tmp_path / f"{name}.{fmt}",
        fmt=fmt,
        check=check,
        dynamic=task.dynamic_dims,
    )  # raises on disagreement
    with torch.no_grad():
        scale = max(float(o.abs().max()) for o in outputs(task.model, x))
    assert report.path.is_file() and report.max_abs_diff <= 1e-4 * (1 + scale)


@pytest.mark.parametrize("name", MODELS)
def test_tiny_preset_trains_into_a_complete_run(name: str, train_tiny) -> None:
    path = train_tiny(name)
    run = RunDir(path)
    for f in (
        run.config_path,
        run.metrics_path,
        run.eval_path,
        run.weights_path,
        run.checkpoint_path,
        run.card_path,
        run.plots_dir / "learning_curves.png",
    ):
        assert f.is_file(), f"{name}: {f.name} missing from the run directory"
    result = json.loads(run.eval_path.read_text())
    headline = {k: v for k, v in result.items() if k.startswith("test/")}
    assert headline and all(math.isfinite(v) for v in headline.values())
    assert result["dataset_version"] and result["split"] == "test" and result["wall_time_s"] > 0
    rows = run.read_metrics()
    assert rows and rows[-1]["step"] == result["steps"]
    spec = get_spec(name)
    # deterministic evaluations: the rebuilt run reproduces them
    if spec.paradigm in ("supervised", "reinforcement", "on_policy"):
        from dlzoo.evaluate import evaluate_run

        again = evaluate_run(path, split="test")
        for k, v in headline.items():
            assert again[k] == pytest.approx(v, rel=1e-6, abs=1e-9), f"{name}: {k} differs after reload"
