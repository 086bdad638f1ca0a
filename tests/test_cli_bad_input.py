"""Damaged or wrong input to the `dlzoo` command: one line (exit 2, no traceback) saying what was expected."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml


def dlzoo(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python -m dlzoo ARGS` as a user runs it (tests/test_cli.py's helper)."""
    env = {**os.environ, "DLZOO_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "dlzoo", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def assert_one_line_error(proc, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "weights_only" not in proc.stderr and "allow_pickle" not in proc.stderr  # never suggest unsafe loading
    assert needle in " ".join(proc.stderr.split()), proc.stderr
    assert proc.stderr.strip().count("\n") <= 2, proc.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny mlp_classifier run for the module; tests copy it before damaging it."""
    root = tmp_path_factory.mktemp("runs")
    proc = dlzoo("train", "mlp_classifier", "--preset", "tiny", "--runs", str(root), "--name", "base")
    assert proc.returncode == 0, proc.stderr
    return root / "mlp_classifier" / "base"


def copy_run(trained: Path, tmp_path: Path) -> Path:
    """The trained run under tmp_path/runs/mlp_classifier/base (the layout --resume expects)."""
    run = tmp_path / "runs" / "mlp_classifier" / "base"
    shutil.copytree(trained, run)
    return run


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("model.hidden=[-5]", "cannot build the model with model.hidden=[-5]"),
        ("model.dropout=2.0", "model.dropout=2.0: dropout probability has to be between 0 and 1"),
        ("model.activation=nosuch", "model.activation='nosuch': unknown activation 'nosuch'; valid: gelu"),
        ("train.lr.x=1", "train.lr is a value (0.003), not a section; expected train.lr=<value>"),
    ],
)
def test_a_model_argument_the_builder_rejects_names_the_key(tmp_path: Path, override: str, needle: str) -> None:
    proc = dlzoo("train", "mlp_classifier", "--preset", "tiny", "--runs", str(tmp_path / "runs"), override)
    assert_one_line_error(proc, needle)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("metrics.jsonl"))


def _write_input(path: Path) -> Path:
    if path.name == "text.csv":
        path.write_text("a,b\nc,d\n")
    elif path.name == "ragged.csv":
        path.write_text("1,2\n3\n")
    elif path.name == "random.npy":
        path.write_bytes(np.random.default_rng(0).bytes(300))
    elif path.name == "object.npy":
        np.save(path, np.array([{"a": 1}, 2], dtype=object), allow_pickle=True)
    elif path.name == "strings.npy":
        np.save(path, np.array(["a", "b"]))
    return path


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("text.csv", "expected a CSV of numbers, the same number of columns on every row"),
        ("ragged.csv", "expected a CSV of numbers, the same number of columns on every row"),
        ("random.npy", "expected a .npy array of numbers"),
        ("object.npy", "expected a .npy array of numbers"),
        ("strings.npy", "expected a .npy array of numbers"),
    ],
)
def test_predict_on_an_unreadable_input_file(trained: Path, tmp_path: Path, name: str, needle: str) -> None:
    proc = dlzoo("predict", str(trained), str(_write_input(tmp_path / name)))
    assert_one_line_error(proc, needle)


@pytest.mark.parametrize("damage", ["truncated", "random", "empty"])
def test_eval_on_damaged_weights(trained: Path, tmp_path: Path, damage: str) -> None:
    run = copy_run(trained, tmp_path)
    weights = run / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes({"truncated": good[:100], "random": np.random.default_rng(0).bytes(5000), "empty": b""}[damage])
    assert_one_line_error(dlzoo("eval", str(run)), "model.safetensors: damaged or not a safetensors file")


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_a_config_with_a_bad_input_shape(trained: Path, tmp_path: Path, command: str) -> None:
    run = copy_run(trained, tmp_path)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["info"]["input_shape"] = ["abc"]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    args = [str(run)] if command == "eval" else [str(run), str(tmp_path / "x.json")]
    (tmp_path / "x.json").write_text("[[0.0]]")
    proc = dlzoo(command, *args)
    assert_one_line_error(proc, "info.input_shape: expected a list of whole numbers >= 1")


def test_a_config_that_is_not_yaml_is_one_line(trained: Path, tmp_path: Path) -> None:
    run = copy_run(trained, tmp_path)
    (run / "config.yaml").write_text("model:\n  name: mlp_classifier\n - [oops\n")
    assert_one_line_error(dlzoo("eval", str(run)), "config.yaml: not valid YAML at line")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_resume_from_a_damaged_checkpoint(trained: Path, tmp_path: Path, damage: str) -> None:
    run = copy_run(trained, tmp_path)
    ckpt = run / "checkpoints" / "last.ckpt"
    good = ckpt.read_bytes()
    ckpt.write_bytes(good[:1000] if damage == "truncated" else np.random.default_rng(0).bytes(1000))
    proc = dlzoo("train", "mlp_classifier", "--resume", "--name", "base", "--runs", str(tmp_path / "runs"))
    assert_one_line_error(proc, "last.ckpt: the checkpoint is damaged")
    assert "start over with a new --name" in " ".join(proc.stderr.split())


@pytest.mark.parametrize("name", ["../../../escape", "a/b", "..", "x..y"])
def test_a_run_name_cannot_leave_the_runs_folder(tmp_path: Path, name: str) -> None:
    root = tmp_path / "a" / "b" / "runs"
    proc = dlzoo("train", "mlp_classifier", "--preset", "tiny", "--runs", str(root), "--name", name)
    assert_one_line_error(proc, "expected a plain folder name inside the runs folder")
    assert list(tmp_path.rglob("*")) == [], list(tmp_path.rglob("*"))


def test_resume_removes_the_temporary_files_of_a_killed_write(trained: Path, tmp_path: Path) -> None:
    run = copy_run(trained, tmp_path)
    stale = [run / "checkpoints" / ".last.ckpt.abc12_x9", run / ".model.safetensors.k2j4h5g6"]
    for f in stale:
        f.write_bytes(b"half a write")
    keep = run / ".notes.txt"
    keep.write_text("mine")
    proc = dlzoo("train", "mlp_classifier", "--resume", "--name", "base", "--runs", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr
    assert not any(f.exists() for f in stale)
    assert keep.exists()
    assert not list(run.rglob(".last.ckpt.*"))
