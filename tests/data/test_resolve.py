"""``--data NAME`` for a dataset inside a loader: tiny Planetoid / TU / UCR files in a tmp DLZOO_DATA."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from dlzoo.config import ConfigError, resolve_config
from dlzoo.data.resolve import find_dataset


def _planetoid(root: Path, name: str) -> None:
    folder = root / "planetoid"
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("x", "y", "tx", "ty", "allx", "ally", "graph"):
        with open(folder / f"ind.{name}.{part}", "wb") as f:
            pickle.dump({} if part == "graph" else sp.csr_matrix(np.zeros((1, 2))), f, protocol=2)
    (folder / f"ind.{name}.test.index").write_text("1\n")


def _tu(root: Path, name: str, *, raw: bool = False) -> None:
    folder = root / name / "raw" if raw else root / name
    folder.mkdir(parents=True)
    for part in ("A", "graph_indicator", "graph_labels"):
        (folder / f"{name}_{part}.txt").write_text("1\n")


def _ucr(root: Path, name: str, n_train: int = 4) -> None:
    folder = root / "UCRArchive_2018" / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("TRAIN", n_train), ("TEST", 4)):
        rows = [f"{k % 2 + 1}\t" + "\t".join(f"{v:.4f}" for v in rng.normal(size=24) + (k % 2) * 3) for k in range(n)]
        (folder / f"{name}_{split}.tsv").write_text("\n".join(rows) + "\n")


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _planetoid(tmp_path, "citeseer")
    _tu(tmp_path, "PROTEINS", raw=True)
    _ucr(tmp_path, "Beef")
    (tmp_path / "UCRArchive_2018" / "Empty").mkdir()  # a folder without the files is not a dataset
    monkeypatch.setenv("DLZOO_DATA", str(tmp_path))
    monkeypatch.setenv("DLZOO_OFFLINE", "1")
    return tmp_path


def test_find_dataset_looks_in_each_loaders_folder_case_insensitively(data_root: Path) -> None:
    (hit,) = find_dataset("CiteSeer")
    assert (hit.loader, hit.dataset, hit.form()) == ("planetoid", "citeseer", "--data planetoid data.dataset=citeseer")
    (hit,) = find_dataset("proteins")
    assert (hit.loader, hit.dataset) == ("tudataset", "PROTEINS") and hit.where.endswith("raw")
    (hit,) = find_dataset("BEEF")
    assert (hit.loader, hit.dataset) == ("ucr", "Beef")
    assert find_dataset("Empty") == [] and find_dataset("nothing") == [] and find_dataset("../x") == []
    # the loader's own list: Cora is downloaded by the planetoid loader, with or without files here
    assert [f.loader for f in find_dataset("CORA")] == ["planetoid"]


def test_resolve_config_maps_a_dataset_name_to_its_loader(data_root: Path) -> None:
    cfg = resolve_config("gat", preset="tiny", data="citeseer")
    assert cfg.data == {"name": "planetoid", "dataset": "citeseer"}
    assert "--data planetoid data.dataset=citeseer" in cfg.info["data_resolved"]
    cfg = resolve_config("gin", preset="tiny", data="proteins")
    assert cfg.data == {"name": "tudataset", "dataset": "PROTEINS"}
    # a preset that already uses the loader keeps its other arguments; overrides still win
    cfg = resolve_config("fcn_tsc", preset="ucr", data="beef", overrides=["data.znorm=false"])
    assert cfg.data == {"name": "ucr", "dataset": "Beef", "znorm": False}
    # a registered loader is still itself, with its own defaults
    assert resolve_config("fcn_tsc", preset="ucr", data="cbf").data == {"name": "cbf"}


def test_an_unknown_name_names_the_loaders_and_the_exact_form(data_root: Path) -> None:
    with pytest.raises(ConfigError) as e:
        resolve_config("fcn_tsc", preset="tiny", data="Wafer")
    msg = str(e.value)
    assert "unknown dataset 'Wafer'; valid: " in msg and "ucr" in msg and "tudataset" in msg
    assert "--data planetoid|tudataset|ucr data.dataset=Wafer" in msg


def test_cli_trains_on_a_ucr_set_found_by_name(data_root: Path, tmp_path: Path) -> None:
    env = {**os.environ, "DLZOO_DATA": str(data_root), "DLZOO_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    args = ["train", "fcn_tsc", "--preset", "tiny", "--data", "beef", "train.epochs=1", "train.progress=false"]
    proc = subprocess.run(
        [sys.executable, "-m", "dlzoo", *args, "--runs", str(tmp_path / "runs"), "--name", "r"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--data beef: resolved to --data ucr data.dataset=Beef" in proc.stderr
    assert "dataset: Beef" in (tmp_path / "runs" / "fcn_tsc" / "r" / "config.yaml").read_text()
    proc = subprocess.run(
        [sys.executable, "-m", "dlzoo", "train", "fcn_tsc", "--data", "Nope", "--runs", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--data planetoid|tudataset|ucr data.dataset=Nope" in " ".join(proc.stderr.split())
