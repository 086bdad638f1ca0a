"""The 2-D toy densities: shapes, determinism, and that samples sit on their modes."""

from __future__ import annotations

import pytest
import torch

from dlzoo.data import DataError, list_datasets, load_dataset
from dlzoo.data.toy2d import grid_modes, ring_modes

TOYS = ["checkerboard", "grid", "moons", "ring", "swiss_roll", "two_spirals"]


def test_registry() -> None:
    assert list_datasets("toy2d") == TOYS


@pytest.mark.parametrize("name", TOYS)
def test_shapes_and_info(name: str) -> None:
    data = load_dataset(name, n_train=300, n_test=100)
    assert data.info.task == "density" and data.info.input_shape == (2,) and data.val is None
    assert data.info.splits == {"train": 300, "test": 100}
    assert data.train.x.shape == (300, 2) and data.test.x.shape == (100, 2)
    assert data.train.x.dtype == torch.float32 and torch.isfinite(data.train.x).all()
    if name in ("swiss_roll", "checkerboard"):
        assert data.train.y is None and data.test.y is None
    else:
        assert data.train.y.dtype == torch.int64 and data.train.y.shape == (300,)


@pytest.mark.parametrize("name", TOYS)
def test_seeded_and_train_test_differ(name: str) -> None:
    a = load_dataset(name, n_train=200, n_test=50, seed=3)
    b = load_dataset(name, n_train=200, n_test=50, seed=3)
    c = load_dataset(name, n_train=200, n_test=50, seed=4)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.x, b.test.x)
    assert not torch.equal(a.train.x, c.train.x)
    assert not torch.equal(a.train.x[:50], a.test.x)


def test_ring_samples_lie_near_radius_two() -> None:
    data = load_dataset("ring", n_train=4000, n_test=10)
    x, k = data.train.x, data.train.y  # (N, 2), (N,)
    radius = x.norm(dim=1)
    assert (radius - 2.0).abs().max() < 6 * 0.02  # 6 std, N=4000: essentially never exceeded
    modes = ring_modes()
    assert modes.centers.shape == (8, 2) and modes.std == 0.02
    torch.testing.assert_close(modes.centers.norm(dim=1), torch.full((8,), 2.0))
    distance = (x - modes.centers[k]).norm(dim=1)  # each sample is near its own mode
    assert distance.max() < 6 * 0.02
    assert torch.bincount(k, minlength=8).min() > 4000 / 8 * 0.8  # all modes used, roughly evenly
    assert (x - modes.centers[k]).std().item() == pytest.approx(0.02, rel=0.1)


def test_grid_samples_lie_on_their_modes() -> None:
    data = load_dataset("grid", n_train=5000, n_test=10)
    x, k = data.train.x, data.train.y
    modes = grid_modes()
    assert modes.centers.shape == (25, 2) and modes.std == 0.05
    assert set(modes.centers.flatten().tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    assert torch.equal(modes.centers[5 * 1 + 3], torch.tensor([-2.0, 2.0]))  # row-major
    assert (x - modes.centers[k]).norm(dim=1).max() < 6 * 0.05
    nearest = torch.cdist(x, modes.centers).argmin(dim=1)
    assert torch.equal(nearest, k)
    assert torch.bincount(k, minlength=25).min() > 5000 / 25 * 0.7


def test_moons_and_swiss_roll_ranges() -> None:
    moons = load_dataset("moons", n_train=2000, n_test=10).train
    assert set(moons.y.tolist()) == {0, 1}
    assert moons.x[:, 0].min() > -1.5 and moons.x[:, 0].max() < 2.5
    roll = load_dataset("swiss_roll", n_train=2000, n_test=10).train.x
    assert roll.abs().max() < 3.5 and roll.abs().max() > 1.5  # scaled by 1/5


@pytest.mark.parametrize("kwargs", [{"n_train": 0}, {"n_test": -1}, {"std": 0.0}, {"n_modes": 0}])
def test_bad_params(kwargs: dict) -> None:
    with pytest.raises(DataError, match=next(iter(kwargs))):
        load_dataset("ring", **kwargs)


def test_checkerboard_fills_the_eight_dark_squares_and_two_spirals_are_point_symmetric() -> None:
    x = load_dataset("checkerboard", n_train=4000, n_test=10).train.x
    assert float(x.abs().max()) <= 4
    cells = torch.floor(x / 2).long()  # (N, 2) square indices in -2..1
    assert bool(((cells[:, 0] + cells[:, 1]) % 2 == 0).all())  # dark squares only
    assert len({tuple(c) for c in cells.tolist()}) == 8
    s = load_dataset("two_spirals", noise=0.0, n_train=4000, n_test=10).train
    arm0, arm1 = s.x[s.y == 0], s.x[s.y == 1]
    assert len(arm0) > 1500 and len(arm1) > 1500
    assert float(s.x.norm(dim=1).max()) <= 3 * torch.pi / 3 + 1e-4  # r = theta / 3, theta <= 3 pi
