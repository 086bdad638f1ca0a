"""superres: low-resolution x = area-average of the image y, both in [0, 1]; bad options name the valid ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlzoo.data import DataError, load_dataset


def test_digits_pairs_are_area_averages_of_the_targets() -> None:
    data = load_dataset("superres", source="digits_images", factor=2, val_size=0.2)
    assert data.train.x.shape[1:] == (1, 4, 4) and data.train.y.shape[1:] == (64,)
    assert data.info.input_shape == (1, 4, 4) and data.info.task == "regress" and data.info.input_range == (0.0, 1.0)
    assert data.info.splits == {"train": len(data.train), "val": len(data.val), "test": len(data.test)}
    y = data.test.y.reshape(-1, 1, 8, 8)
    # x[0, 0, 1, 2] is the mean of the 2x2 block y[0, 0, 2:4, 4:6]
    torch.testing.assert_close(data.test.x[:, 0, 1, 2], y[:, 0, 2:4, 4:6].mean(dim=(-2, -1)))
    for part in (data.train, data.val, data.test):
        assert part.x.min() >= 0 and part.x.max() <= 1 and part.y.min() >= 0 and part.y.max() <= 1
    four = load_dataset("superres", source="digits_images", factor=4, limit=10)
    assert four.train.x.shape == (10, 1, 2, 2) and four.test.y.shape == (10, 64)
    torch.testing.assert_close(four.test.x.mean(dim=(1, 2, 3)), four.test.y.mean(dim=1))  # averaging keeps the mean


def test_mnist_source_from_idx_files(fake_mnist) -> None:
    data = load_dataset("superres", source="mnist", factor=4, val_size=10, root=str(fake_mnist.root))
    assert data.train.x.shape == (40, 1, 7, 7) and data.val.x.shape == (10, 1, 7, 7) and data.test.y.shape == (20, 784)
    y = torch.from_numpy(fake_mnist.x_test.astype(np.float32) / 255.0)  # (20, 28, 28)
    torch.testing.assert_close(data.test.y, y.reshape(20, -1))
    torch.testing.assert_close(data.test.x[:, 0, 3, 5], y[:, 12:16, 20:24].mean(dim=(-2, -1)))
    assert data.info.version == "mnist-idx-lecun/area-x4"
    limited = load_dataset("superres", source="mnist", limit=5, root=str(fake_mnist.root))
    assert limited.train.x.shape == (5, 1, 14, 14) and limited.val is None


def test_bad_options_name_the_valid_ones() -> None:
    with pytest.raises(DataError, match=r"valid: \[2, 4, 8\]"):
        load_dataset("superres", source="digits_images", factor=3)
    with pytest.raises(DataError, match="valid sources: \\['mnist', 'digits_images'\\]"):
        load_dataset("superres", source="cifar10")
    with pytest.raises(DataError, match="factor must be an integer >= 2"):
        load_dataset("superres", source="digits_images", factor=1)
    with pytest.raises(DataError, match="fraction in \\[0, 1\\)"):
        load_dataset("superres", source="digits_images", val_size=5)
