"""Sequence datasets: the adding problem generator, MNIST / digits by rows, sunspots windows and CSV errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dlzoo.data import DataError, load_dataset
from dlzoo.data.sequences import adding_batch, sunspot_series


def test_adding_targets_are_the_sum_of_the_marked_values() -> None:
    x, y = adding_batch(30, 64, torch.Generator().manual_seed(0))
    assert x.shape == (64, 30, 2) and y.shape == (64,)
    markers = x[..., 1]
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :15].sum(1) == 1).all() and (markers[:, 15:].sum(1) == 1).all()  # one in each half
    torch.testing.assert_close(y, (x[..., 0] * markers).sum(1))
    assert ((x[..., 0] >= 0) & (x[..., 0] < 1)).all()


def test_adding_dataset_is_seeded_and_splits_differ() -> None:
    a = load_dataset("adding", steps=12, n_train=50, n_val=10, n_test=20, seed=3)
    b = load_dataset("adding", steps=12, n_train=50, n_val=10, n_test=20, seed=3)
    assert a.info.input_shape == (12, 2) and a.info.splits == {"train": 50, "test": 20, "val": 10}
    torch.testing.assert_close(a.train.x, b.train.x)
    assert not torch.equal(a.train.x[:20], a.test.x)
    assert load_dataset("adding", steps=12, n_val=0).val is None


def test_adding_rejects_bad_sizes() -> None:
    with pytest.raises(DataError, match="steps must be >= 2"):
        load_dataset("adding", steps=1)
    with pytest.raises(DataError, match="expects int"):
        load_dataset("adding", steps=12.5)


def test_seq_digits_rows() -> None:
    data = load_dataset("seq_digits")
    assert data.train.x.shape[1:] == (8, 8) and data.info.input_shape == (8, 8) and data.info.num_classes == 10
    assert data.train.x.max() <= 1 and len(data.test) == 360


def test_seq_mnist_reads_mnist_rows(fake_mnist) -> None:
    data = load_dataset("seq_mnist", root=str(fake_mnist.root), val_size=10)
    assert data.train.x.shape == (40, 28, 28) and data.val.x.shape == (10, 28, 28) and data.test.x.shape == (20, 28, 28)
    np.testing.assert_allclose(data.train.x[3].numpy(), fake_mnist.x_train[3] / 255.0, rtol=1e-6)
    assert data.info.input_shape == (28, 28) and data.info.version.endswith("/rows")


def _csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_series_csv_windows_are_chronological(tmp_path: Path) -> None:
    values = [float(v * v % 17) for v in range(40)]
    path = _csv(tmp_path / "s.csv", ["year,value", *(f"{1900 + i},{v}" for i, v in enumerate(values))])
    data = load_dataset("sunspots", path=str(path), window=5, val_size=6, test_size=9)
    assert data.info.splits == {"train": 20, "val": 6, "test": 9} and data.train.x.shape == (20, 5, 1)
    series = torch.tensor(values)
    xs = torch.cat([data.train.x, data.val.x, data.test.x])[..., 0]  # (35, 5)
    ys = torch.cat([data.train.y, data.val.y, data.test.y])
    for i in range(35):  # window i = values i..i+4, target = value i+5
        torch.testing.assert_close(xs[i], series[i : i + 5])
        assert ys[i] == series[i + 5]
    assert "test 1931-1939" in data.info.split_note


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["t,v", "1,2", "2,abc"], r"s\.csv:3: expected two numbers"),
        (["t,v", "1,2", "2,3,4"], r"s\.csv:3: expected 2 fields"),
        (["t,v", "1,2", "1,3"], r"s\.csv:3: times must increase"),
        (["t,v", "1,nan"], r"s\.csv:2: time and value must be finite"),
        (["t,v", "1,2", "2,3"], r"too short for window 5"),
    ],
)
def test_malformed_series_csv_names_file_and_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = _csv(tmp_path / "s.csv", lines)
    with pytest.raises(DataError, match=message):
        load_dataset("sunspots", path=str(path), window=5, val_size=0, test_size=1)


def test_missing_series_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_dataset("sunspots", path=str(tmp_path / "nope.csv"))


def test_sunspots_shipped_series() -> None:
    """The series shipped in the package (1700-2008), split chronologically by the target's year."""
    data = load_dataset("sunspots")
    assert data.info.splits == {"train": 205, "val": 30, "test": 50}
    note = "chronological by target time: train 1724-1928, val 1929-1958, test 1959-2008"
    assert data.info.split_note.startswith(note)
    assert data.test.y[-1] == pytest.approx(2.9)  # 2008


def test_the_shipped_sunspots_equal_statsmodels_copy() -> None:
    """The shipped CSV equals statsmodels' bundled series value for value (skipped without statsmodels)."""
    sm = pytest.importorskip("statsmodels.datasets.sunspots", reason="statsmodels is in the [bench] extra")
    frame = sm.load_pandas().data
    years, values, _ = sunspot_series()
    np.testing.assert_array_equal(years, frame["YEAR"].to_numpy())
    np.testing.assert_array_equal(values, frame["SUNACTIVITY"].to_numpy())
