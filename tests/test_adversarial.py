"""The adversarial paradigm through the loop: exact resume, a diverging run keeping its last good
checkpoint, serving /sample (bad counts refused), and export of a run's generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load_file

from dlzoo.config import resolve_config
from dlzoo.runs import RunDir, TrainingDiverged
from dlzoo.training.loop import train_run


def history(run: RunDir) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "time"} for row in run.read_metrics()]


def tiny(model: str, *overrides: str):
    return resolve_config(model, preset="tiny", overrides=["train.progress=false", *overrides])


@pytest.mark.parametrize("model", ["wgan_gp", "dcgan"])
def test_resume_at_a_round_boundary_replays_the_same_run(model: str, tmp_path: Path) -> None:
    """wgan_gp: n_critic, z and the penalty's eps from the task's noise; dcgan: BatchNorm, two Adams."""
    ref = RunDir.create(tmp_path, model, "ref")
    train_run(tiny(model, "train.epochs=3", "train.log_every=1"), ref)
    cut = RunDir.create(tmp_path, model, "cut")
    train_run(tiny(model, "train.epochs=2", "train.log_every=1"), cut)  # "interrupted" after round 1
    assert torch.load(cut.checkpoint_path, weights_only=True)["round"] == 1
    train_run(tiny(model, "train.epochs=3", "train.log_every=1"), cut, resume=True)
    assert history(cut) == history(ref)
    a, b = load_file(cut.weights_path), load_file(ref.weights_path)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    keys = {k for k in history(ref)[0]}
    assert (
        {"train/loss_d", "train/loss_g", "train/gp", "train/wasserstein"} <= keys
        if model == "wgan_gp"
        else {"train/loss_d", "train/loss_g", "train/d_real", "train/d_fake"} <= keys
    )


def test_a_diverging_run_stops_and_keeps_its_last_good_checkpoint(tmp_path: Path, monkeypatch) -> None:
    """The generator loss turns NaN in round 1 (of 20 steps per round): round 0's checkpoint survives."""
    from dlzoo.families.gan.objective import GANObjective

    real, calls = GANObjective.generator_loss, {"n": 0}

    def poisoned(self, generator, critic, z):
        loss, logs = real(self, generator, critic, z)
        calls["n"] += 1
        return (loss * float("nan"), logs) if calls["n"] > 25 else (loss, logs)

    monkeypatch.setattr(GANObjective, "generator_loss", poisoned)
    run = RunDir.create(tmp_path, "gan", "nan")
    with pytest.raises(TrainingDiverged, match=r"train/loss_[dg] = nan at step 30 \(round 1\)") as e:
        train_run(tiny("gan", "train.epochs=3", "train.log_every=5"), run)
    assert "round 0" in str(e.value) and str(run.checkpoint_path) in str(e.value)
    state = torch.load(run.checkpoint_path, weights_only=True)
    assert state["round"] == 0 and state["step"] == 20
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not run.eval_path.exists() and not run.weights_path.exists()


def test_a_real_blow_up_is_caught_before_any_checkpoint(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "wgan_gp", "lr")
    with pytest.raises(TrainingDiverged, match=r"train/loss_\w+ = (nan|inf|-inf)"):
        train_run(tiny("wgan_gp", "train.epochs=2", "task.lr_d=1e30", "task.lr_g=1e30"), run)
    assert not run.checkpoint_path.exists()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    from dlzoo.serve import create_app

    root = tmp_path_factory.mktemp("gan-runs")
    for model in ("gan", "dcgan"):
        train_run(tiny(model, "train.epochs=1"), RunDir.create(root, model, "t"))
    with TestClient(create_app(root)) as client:
        yield client


def test_sample_serves_points_and_images_in_range_and_is_seeded(served: TestClient) -> None:
    r = served.post("/v1/models/gan/sample", json={"n": 5, "seed": 3})
    assert r.status_code == 200, r.text
    assert r.json()["shape"] == [5, 2]
    again = served.post("/v1/models/gan/sample", json={"n": 5, "seed": 3}).json()["samples"]
    assert again == r.json()["samples"]
    assert served.post("/v1/models/gan/sample", json={"n": 5, "seed": 4}).json()["samples"] != again
    img = served.post("/v1/models/dcgan/sample", json={"n": 2, "seed": 0})
    assert img.status_code == 200 and img.json()["shape"] == [2, 1, 8, 8]
    x = torch.tensor(img.json()["samples"])
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


@pytest.mark.parametrize(
    ("n", "limit"), [(0, "greater than or equal to 1"), (-3, "greater than or equal to 1"), (10**6, "1024")]
)
def test_absurd_sample_counts_get_a_422_that_names_the_limit(served: TestClient, n: int, limit: str) -> None:
    r = served.post("/v1/models/dcgan/sample", json={"n": n, "seed": 0})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith("n") and limit in detail and str(n) in detail


def test_export_of_a_run_uses_the_latent_input(tmp_path: Path, train_tiny) -> None:
    from dlzoo.export import export_run

    path = train_tiny("pacgan", "train.epochs=1")
    report = export_run(path, fmt="onnx", out=tmp_path / "pacgan.onnx")
    assert report.path.is_file() and report.max_abs_diff < 1e-4
    eval_json = json.loads((Path(path) / "eval.json").read_text())
    assert {"test/modes_captured", "test/high_quality_pct", "test/critic_gap"} <= set(eval_json)
    assert (Path(path) / "plots" / "samples.png").is_file()
