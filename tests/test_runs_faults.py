"""Run-format faults found by trying the CLI as an attacker would: a full disk during a write, a resume
after a kill before the first checkpoint, a resume from a checkpoint of another model shape."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
import torch

from dlzoo.config import resolve_config
from dlzoo.runs import RunDir, RunError
from dlzoo.training import train_run


def _cfg(*overrides: str):
    return resolve_config("mlp_classifier", preset="tiny", overrides=["train.progress=false", *overrides])


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0"),
    ],
    ids=["ENOSPC", "torch-inline-container"],
)
def test_a_full_disk_is_one_line_naming_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure) -> None:
    def full(*args, **kwargs):
        raise failure

    monkeypatch.setattr(torch, "save", full)
    run = RunDir.create(tmp_path, "mlp_classifier", "r")
    with pytest.raises(RunError) as e:
        train_run(_cfg("train.epochs=1"), run)
    message = str(e.value)
    assert "disk is full" in message and str(run.checkpoint_path) in message and "\n" not in message
    assert not [f for f in run.checkpoint_path.parent.iterdir() if f.name.startswith(".")]  # no temp file left


def test_a_full_disk_while_logging_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_open = builtins.open

    def full_open(file, mode="r", *args, **kwargs):
        if str(file).endswith("metrics.jsonl") and "a" in mode:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full_open)
    run = RunDir.create(tmp_path, "mlp_classifier", "r")
    with pytest.raises(RunError, match="disk is full") as e:
        train_run(_cfg("train.epochs=1"), run)
    assert str(run.metrics_path) in str(e.value)


def test_resume_after_a_kill_before_the_first_checkpoint_does_not_duplicate_lines(tmp_path: Path) -> None:
    cfg = _cfg("train.epochs=2")
    clean = RunDir.create(tmp_path, "mlp_classifier", "clean")
    train_run(cfg, clean)
    killed = RunDir.create(tmp_path, "mlp_classifier", "killed")
    train_run(cfg, killed)
    # what a kill before the first checkpoint leaves: some lines of round 0, no checkpoint
    lines = killed.metrics_path.read_text().splitlines()
    killed.metrics_path.write_text("\n".join(lines[:2]) + "\n")
    killed.checkpoint_path.unlink()
    killed.weights_path.unlink()
    train_run(cfg, killed, resume=True)
    steps = [(r["round"], r["step"], tuple(sorted(r))) for r in killed.read_metrics()]
    assert steps == [(r["round"], r["step"], tuple(sorted(r))) for r in clean.read_metrics()]
    assert len(steps) == len(set(steps))


def test_resume_with_a_checkpoint_of_another_shape_is_one_line(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "mlp_classifier", "r")
    train_run(_cfg("train.epochs=1"), run)
    other = _cfg("train.epochs=2", "model.hidden=[7]")
    with pytest.raises(RunError) as e:
        train_run(other, run, resume=True)
    message = str(e.value)
    assert "does not match the model of config.yaml" in message and "\n" not in message
    assert "size mismatch" in message
    json.dumps(message)
