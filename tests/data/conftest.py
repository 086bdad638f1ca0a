"""Shared fixtures for the data tests: tiny MNIST-format IDX files written on the fly."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from dlzoo.data import images


def _write_idx(path: Path, array: np.ndarray, *, compress: bool = True) -> bytes:
    """Write ``array`` (uint8) as an IDX file: 00 00 08 <ndim>, big-endian uint32 dims, data."""
    assert array.dtype == np.uint8
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    raw = header + array.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return raw


@pytest.fixture
def write_idx() -> Callable[..., bytes]:
    """``write_idx(path, uint8_array, compress=True) -> raw IDX bytes`` (a fixture so that test
    files need not import conftest)."""
    return _write_idx


@dataclass
class FakeMnist:
    root: Path  # pass as load_dataset("mnist", root=str(root))
    x_train: np.ndarray  # (50, 28, 28) uint8
    y_train: np.ndarray  # (50,) uint8
    x_test: np.ndarray  # (20, 28, 28) uint8
    y_test: np.ndarray  # (20,) uint8


@pytest.fixture
def fake_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeMnist:
    """50 train / 20 test random MNIST-shaped images under tmp_path/MNIST, with
    ``images.MNIST_FILES`` patched to their sha256 (and offline, so nothing is downloaded)."""
    rng = np.random.default_rng(0)
    fake = FakeMnist(
        root=tmp_path,
        x_train=rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, size=50, dtype=np.uint8),
        x_test=rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, size=20, dtype=np.uint8),
    )
    arrays = {
        "train_images": fake.x_train,
        "train_labels": fake.y_train,
        "test_images": fake.x_test,
        "test_labels": fake.y_test,
    }
    (tmp_path / "MNIST").mkdir()
    for key, array in arrays.items():
        resource = images.MNIST_FILES[key]
        path = tmp_path / "MNIST" / resource.filename
        _write_idx(path, array)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        monkeypatch.setitem(images.MNIST_FILES, key, replace(resource, sha256=digest))
    monkeypatch.setenv("DLZOO_OFFLINE", "1")
    return fake


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads ~/.cache/dlzoo or the network: an empty DLZOO_DATA and DLZOO_OFFLINE=1."""
    monkeypatch.setenv("DLZOO_DATA", str(tmp_path_factory.mktemp("empty_data_root")))
    monkeypatch.setenv("DLZOO_OFFLINE", "1")
