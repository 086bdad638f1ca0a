"""IDX parsing and the image datasets, on tiny MNIST-format files written by conftest.py.

`fake_mnist` (conftest.FakeMnist): root, x_train (50, 28, 28), y_train, x_test (20, 28, 28), y_test.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dlzoo.data import DataError, load_dataset
from dlzoo.data.images import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, read_idx

# ---------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("compress", [True, False])
def test_idx_round_trip(tmp_path: Path, compress: bool, write_idx: Callable[..., bytes]) -> None:
    images = np.random.default_rng(1).integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = np.arange(7, dtype=np.uint8)
    write_idx(tmp_path / "images", images, compress=compress)
    write_idx(tmp_path / "labels", labels, compress=compress)
    np.testing.assert_array_equal(read_idx(tmp_path / "images", magic=IDX_IMAGES_MAGIC), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "labels", magic=IDX_LABELS_MAGIC), labels)


def test_truncated_data_names_the_file(tmp_path: Path, write_idx: Callable[..., bytes]) -> None:
    path = tmp_path / "cut-idx3-ubyte.gz"
    raw = write_idx(path, np.zeros((5, 28, 28), dtype=np.uint8))
    path.write_bytes(gzip.compress(raw[:-100]))  # a valid gzip of a cut IDX file
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert str(path) in str(err.value) and "truncated" in str(err.value)


def test_truncated_gzip_names_the_file(tmp_path: Path, write_idx: Callable[..., bytes]) -> None:
    path = tmp_path / "cut.gz"
    write_idx(path, np.zeros((5, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-20])  # the gzip stream itself is cut
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("content", [b"", b"\x00\x00", b"PK\x03\x04junk", b"\x00\x00\x07\x01"])
def test_not_idx(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(path)


def test_wrong_magic(tmp_path: Path, write_idx: Callable[..., bytes]) -> None:
    path = tmp_path / "labels.gz"
    write_idx(path, np.zeros(3, dtype=np.uint8))
    with pytest.raises(DataError, match="2049, expected 2051"):
        read_idx(path, magic=IDX_IMAGES_MAGIC)


# ---------------------------------------------------------------------------- mnist


def test_mnist_loads_fake_files(fake_mnist: Any) -> None:
    data = load_dataset("mnist", root=str(fake_mnist.root))
    assert data.info.splits == {"train": 50, "test": 20} and data.val is None
    assert data.info.input_shape == (1, 28, 28) and data.info.num_classes == 10
    assert data.train.x.shape == (50, 1, 28, 28) and data.train.x.dtype == torch.float32
    torch.testing.assert_close(data.train.x[:, 0], torch.from_numpy(fake_mnist.x_train).float() / 255)
    torch.testing.assert_close(data.test.x[:, 0], torch.from_numpy(fake_mnist.x_test).float() / 255)
    assert data.train.y.dtype == torch.int64
    assert data.train.y.tolist() == fake_mnist.y_train.tolist()
    assert data.test.y.tolist() == fake_mnist.y_test.tolist()


def test_mnist_uses_dlzoo_data(fake_mnist: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLZOO_DATA", str(fake_mnist.root))
    assert load_dataset("mnist").info.splits["train"] == 50


def test_mnist_flatten_val_and_limit(fake_mnist: Any) -> None:
    data = load_dataset("mnist", root=str(fake_mnist.root), flatten=True, val_size=10)
    assert data.info.input_shape == (784,) and data.train.x.shape == (40, 784)
    assert data.info.splits == {"train": 40, "val": 10, "test": 20}
    assert data.val.y.tolist() == fake_mnist.y_train[40:].tolist()  # the last 10 training images
    limited = load_dataset("mnist", root=str(fake_mnist.root), limit=5)
    assert limited.info.splits == {"train": 5, "test": 5}
    assert limited.train.y.tolist() == fake_mnist.y_train[:5].tolist()
    with pytest.raises(DataError, match="val_size"):
        load_dataset("mnist", root=str(fake_mnist.root), val_size=50)


@pytest.mark.parametrize("mode", ["threshold", "stochastic"])
def test_binarize_gives_only_zeros_and_ones(fake_mnist: Any, mode: str) -> None:
    data = load_dataset("mnist", root=str(fake_mnist.root), binarize=mode)
    for split in (data.train, data.test):
        assert set(split.x.unique().tolist()) == {0.0, 1.0}
    grey = torch.from_numpy(fake_mnist.x_train).float() / 255  # uniform grey levels: mean ~0.5
    if mode == "threshold":
        torch.testing.assert_close(data.train.x[:, 0], (grey > 0.5).float())
    else:  # a Bernoulli sample has the grey levels as mean
        assert abs(data.train.x.mean().item() - grey.mean().item()) < 0.01
    assert mode in data.info.version


def test_stochastic_binarization_is_fixed_by_its_seed(fake_mnist: Any) -> None:
    root = str(fake_mnist.root)
    a = load_dataset("mnist", root=root, binarize="stochastic")
    b = load_dataset("mnist", root=root, binarize="stochastic")
    c = load_dataset("mnist", root=root, binarize="stochastic", binarize_seed=1)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.x, b.test.x)
    assert not torch.equal(a.train.x, c.train.x)


def test_bad_binarize_lists_choices(fake_mnist: Any) -> None:
    with pytest.raises(DataError, match=r"\['none', 'threshold', 'stochastic'\]"):
        load_dataset("mnist", root=str(fake_mnist.root), binarize="otsu")


def test_mnist_missing_offline_says_where(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset("mnist", root=str(tmp_path))
    message = str(err.value)
    assert "train-images-idx3-ubyte.gz" in message and str(tmp_path / "MNIST") in message
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in message and "DLZOO_DATA" in message


def test_mnist_wrong_hash(fake_mnist: Any, write_idx: Callable[..., bytes]) -> None:
    path = fake_mnist.root / "MNIST" / "t10k-labels-idx1-ubyte.gz"
    write_idx(path, np.zeros(20, dtype=np.uint8))
    with pytest.raises(DataError, match="sha256 mismatch.*t10k-labels"):
        load_dataset("mnist", root=str(fake_mnist.root))


# ---------------------------------------------------------------------------- digits_images


def test_digits_images_match_tabular_digits() -> None:
    images = load_dataset("digits_images", val_size=0.2)
    table = load_dataset("digits", val_size=0.2)
    assert images.info.input_shape == (1, 8, 8) and images.info.splits == table.info.splits
    for a, b in [(images.train, table.train), (images.val, table.val), (images.test, table.test)]:
        assert a.x.shape[1:] == (1, 8, 8) and a.x.min() >= 0 and a.x.max() <= 1
        torch.testing.assert_close(a.x.reshape(-1, 64), b.x / 16)
        assert torch.equal(a.y, b.y)
