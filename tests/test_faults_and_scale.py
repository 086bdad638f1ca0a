"""Interrupted runs resume exactly; a 2-process DDP run matches one process with the same global batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from test_cli import dlzoo

TINY = ["mlp_classifier", "--preset", "tiny", "train.progress=false"]


def history(run: Path) -> list[dict]:
    """metrics.jsonl without wall-clock fields."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


def headline(run: Path) -> dict:
    return {k: v for k, v in json.loads((run / "eval.json").read_text()).items() if k.startswith("test/")}


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    args = [*TINY, "train.epochs=40", "train.batch_size=16", "model.dropout=0.2", "--runs", str(tmp_path)]
    ref = dlzoo("train", *args, "--name", "ref")
    assert ref.returncode == 0, ref.stderr

    run = tmp_path / "mlp_classifier" / "killed"
    env = {**os.environ, "DLZOO_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlzoo", "train", *args, "--name", "killed"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while not (run / "checkpoints" / "last.ckpt").exists():  # kill right after the first checkpoint
        assert proc.poll() is None and time.monotonic() < deadline, "training ended before a checkpoint appeared"
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "eval.json").exists(), "the run finished before it was killed; the test proves nothing"
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["round"] < 39

    resumed = dlzoo("train", "mlp_classifier", "--runs", str(tmp_path), "--name", "killed", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert history(run) == history(tmp_path / "mlp_classifier" / "ref")
    assert headline(run) == headline(tmp_path / "mlp_classifier" / "ref")
    a, b = load_file(run / "model.safetensors"), load_file(tmp_path / "mlp_classifier" / "ref" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_ddp_two_processes_match_one_process(tmp_path: Path) -> None:
    # iris: 120 training examples = 5 global batches of 24, so no process ever pads a batch
    common = [
        "mlp_classifier",
        "--preset",
        "tiny",
        "--data",
        "iris",
        "--runs",
        str(tmp_path),
        "train.epochs=8",
        "train.batch_size=24",
        "train.log_every=1",
        "train.progress=false",
    ]
    one = dlzoo("train", *common, "--name", "one")
    assert one.returncode == 0, one.stderr
    two = dlzoo("train", *common, "--name", "two", "train.devices=2", "train.strategy=ddp", timeout=600)
    assert two.returncode == 0, two.stderr
    r1, r2 = tmp_path / "mlp_classifier" / "one", tmp_path / "mlp_classifier" / "two"
    assert json.loads((r2 / "eval.json").read_text())["world_size"] == 2
    h1, h2 = history(r1), history(r2)
    assert len(h1) == len(h2) == 8 * 5  # one line per optimizer step (log_every=1)
    for a, b in zip(h1, h2, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-4, abs=1e-5), (k, a, b)
    w1, w2 = load_file(r1 / "model.safetensors"), load_file(r2 / "model.safetensors")
    for k in w1:
        torch.testing.assert_close(w1[k], w2[k], rtol=1e-4, atol=1e-5)


def test_ddp_runs_the_adversarial_paradigm_with_a_gradient_penalty(tmp_path: Path) -> None:
    """Two DDP processes: generator and critic wrapped apart, the penalty's double backward through DDP."""
    proc = dlzoo(
        "train",
        "wgan_gp",
        "--preset",
        "tiny",
        "--runs",
        str(tmp_path),
        "--name",
        "two",
        "train.devices=2",
        "train.strategy=ddp",
        "train.log_every=1",
        "train.progress=false",
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "wgan_gp" / "two"
    assert json.loads((run / "eval.json").read_text())["world_size"] == 2
    rows = [row for row in history(run) if "train/loss_d" in row]  # the training windows (not the evals)
    assert len(rows) >= 3 and all({"train/loss_g", "train/gp"} <= row.keys() for row in rows)
    assert all(torch.isfinite(torch.tensor(row["train/gp"])) and row["train/gp"] >= 0 for row in rows)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path: Path, monkeypatch) -> None:
    """From round 3 on the task's loss is NaN: the run raises TrainingDiverged naming the metric and the
    kept round, the checkpoint on disk is round 2's (weights finite, loadable), and no final artifacts exist."""
    import dlzoo.training.loop as loop
    from dlzoo.config import resolve_config
    from dlzoo.runs import RunDir, TrainingDiverged

    real_make_task = loop.make_task

    def poisoned(ctx):
        task = real_make_task(ctx)
        train_round = task.train_round

        def nan_from_round_3(r):
            for logs in train_round(r):
                yield {**logs, "train/loss": logs["train/loss"] * float("nan")} if r >= 3 else logs

        task.train_round = nan_from_round_3
        return task

    monkeypatch.setattr(loop, "make_task", poisoned)
    cfg = resolve_config(
        "mlp_classifier",
        preset="tiny",
        overrides=["train.epochs=6", "train.checkpoint_every=1", "train.progress=false"],
    )
    run = RunDir.create(tmp_path, "mlp_classifier", "nan")
    with pytest.raises(TrainingDiverged, match=r"train/loss = nan at step \d+ \(round 3\).*round 2 is kept"):
        loop.train_run(cfg, run)
    ckpt = torch.load(run.checkpoint_path, weights_only=True)
    assert ckpt["round"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert not (run.path / "eval.json").exists() and not (run.path / "model.safetensors").exists()
