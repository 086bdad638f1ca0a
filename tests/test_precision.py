"""Mixed precision: every registered model trains under ``train.precision=bf16-mixed`` on the CPU.

bf16 autocast runs the forward's matmuls and convolutions in bfloat16; the parameters, the optimizer
state and the loss stay float32 (Fabric's precision plugin, or ``fabric.autocast`` where a paradigm
drives its own steps, as DQN does). ``auto`` picks bf16-mixed only where the hardware computes bf16
natively, and the run records which precision ran.
"""

from __future__ import annotations

import json
import math

import pytest
from safetensors import safe_open

from dlzoo import hardware
from dlzoo.registry import list_models
from dlzoo.runs import RunDir


@pytest.mark.parametrize("name", list_models())
def test_tiny_preset_trains_in_bf16_mixed(name: str, train_tiny) -> None:
    run = RunDir(train_tiny(name, "train.precision=bf16-mixed"))
    result = json.loads(run.eval_path.read_text())
    headline = {k: v for k, v in result.items() if k.startswith("test/")}
    assert headline, f"{name}: no test metrics"
    bad = {k: v for k, v in headline.items() if not math.isfinite(v)}
    assert not bad, f"{name}: non-finite test metrics under bf16-mixed: {bad}"
    losses = [v for row in run.read_metrics() for k, v in row.items() if k.startswith("train/") and "loss" in k]
    assert all(math.isfinite(v) for v in losses), f"{name}: a non-finite training loss under bf16-mixed"
    assert result["hardware"]["precision"] == "bf16-mixed"
    with safe_open(str(run.weights_path), framework="pt") as f:  # the master weights stay float32
        dtypes = {str(f.get_slice(k).get_dtype()) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    assert dtypes <= {"F32", "I64", "BOOL", "I32", "U8"}, f"{name}: saved weights are {dtypes}, not float32"


@pytest.mark.parametrize(
    ("isa", "probe", "expected"),
    [
        (["avx2", "avx512f", "amx_tile", "amx_bf16"], 0.5, "bf16-mixed"),  # AMX: no probe needed
        (["avx2", "avx512f", "avx512_bf16"], 0.6, "32-true"),  # the Intel Xeon of bf16_speed: bf16 slower
        (["avx2", "avx512f", "avx512_bf16"], 1.6, "bf16-mixed"),  # the AMD EPYC of bf16_speed: faster
        (["avx2", "avx512f", "avx512_bf16"], 1.1, "32-true"),  # within the margin: keep fp32
        (["avx2", "fma", "avx512f"], 9.9, "32-true"),  # bf16 emulated through fp32: never
        (["avx2", "fma"], 9.9, "32-true"),
    ],
)
def test_auto_precision_follows_the_cpu(monkeypatch, isa, probe, expected) -> None:
    monkeypatch.setattr(hardware, "cpu_model", lambda: ("test CPU", isa))
    monkeypatch.setattr(hardware, "bf16_training_speedup", lambda: probe)
    accelerator = "cpu"
    assert hardware.resolve_precision("auto", accelerator) == expected
    assert hardware.resolve_precision("32-true", accelerator) == "32-true"  # an explicit setting is kept


def test_the_bf16_probe_times_both_precisions() -> None:
    hardware.bf16_training_speedup.cache_clear()
    ratio = hardware.bf16_training_speedup(width=64, batch=8, repeats=2)
    assert math.isfinite(ratio) and 0.01 < ratio < 100  # a ratio of two measured times, not a constant
    assert hardware.bf16_training_speedup(width=64, batch=8, repeats=2) is ratio  # measured once, then cached
    hardware.bf16_training_speedup.cache_clear()


def test_auto_precision_is_recorded_in_the_run(tmp_path) -> None:
    from dlzoo.config import resolve_config
    from dlzoo.training import train_run

    cfg = resolve_config("mlp_classifier", preset="tiny", overrides=["train.progress=false", "train.precision=auto"])
    run = RunDir.create(tmp_path, "mlp_classifier", "auto")
    result = train_run(cfg, run)
    ran = hardware.resolve_precision("auto", "cpu")
    assert result["hardware"]["precision"] == ran
    saved = run.read_config()
    assert saved.train.precision == "auto" and saved.info["precision"] == ran
