"""Two-dimensional toy distributions for density models and GANs (task "density").

``ring`` and ``grid`` follow the mode-collapse protocol of VEEGAN (Srivastava et al., 2017, Sec. 5.1)
and PacGAN (Lin et al., 2018, Sec. 5): a ring of 8 Gaussians of radius 2 with std 0.02, and a 5x5
grid of Gaussians at {-4, -2, 0, 2, 4}^2 with std 0.05. Their centers and std are exported by
:func:`ring_modes` / :func:`grid_modes` for mode-coverage metrics (a sample is "high quality" when it
lies within 3 std of a center; a mode is "covered" when it has such samples).

Each loader draws ``n_train + n_test`` samples from one generator seeded by ``seed`` and keeps the
first ``n_train`` as train, the rest as test. ``y`` is the index of the mode (or moon) a sample came
from, int64, or None for the swiss roll.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sklearn.datasets
import torch

from dlzoo.data.base import DataError, DataInfo, Split, TensorData, register_dataset
from dlzoo.data.tabular import SKLEARN_VERSION

TOY2D_VERSION = "dlzoo-toy2d-v1"  # ring / grid: numpy default_rng (PCG64) draws, see _mixture


@dataclass(frozen=True, eq=False)
class Modes:
    """Centers and per-coordinate std of an isotropic Gaussian mixture with equal weights."""

    centers: torch.Tensor  # (K, 2) float32
    std: float


def ring_modes(*, n_modes: int = 8, radius: float = 2.0, std: float = 0.02) -> Modes:
    """Mode k at radius * (cos(2 pi k / n_modes), sin(2 pi k / n_modes)), k = 0..n_modes-1."""
    angles = 2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes  # (K,)
    centers = radius * torch.stack([angles.cos(), angles.sin()], dim=1)  # (K, 2)
    return Modes(centers=centers.float(), std=std)


def grid_modes(*, std: float = 0.05) -> Modes:
    """25 modes at {-4, -2, 0, 2, 4}^2, row-major: mode 5 * i + j at (-4 + 2i, -4 + 2j)."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    centers = torch.cartesian_prod(axis, axis)  # (25, 2)
    return Modes(centers=centers, std=std)


def _check_sizes(n_train: int, n_test: int) -> None:
    if n_train < 1 or n_test < 1:
        raise DataError(f"n_train and n_test must be >= 1, got n_train={n_train}, n_test={n_test}")


def _mixture(modes: Modes, *, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n samples of the mixture: k ~ Uniform{0..K-1}, x = centers[k] + std * N(0, I)."""
    if modes.std <= 0:
        raise DataError(f"std must be > 0, got {modes.std}")
    rng = np.random.default_rng(seed)
    k = rng.integers(len(modes.centers), size=n)  # (n,)
    x = modes.centers.numpy()[k] + modes.std * rng.standard_normal((n, 2))  # (n, 2)
    return x.astype(np.float32), k.astype(np.int64)


def _pack(name: str, x: np.ndarray, y: np.ndarray | None, *, n_train: int, version: str, seed: int) -> TensorData:
    """First n_train rows of (x, y) -> train, the rest -> test."""
    x_t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))  # (n_train + n_test, 2)
    y_t = None if y is None else torch.from_numpy(y.astype(np.int64))  # (n_train + n_test,)
    train = Split(x=x_t[:n_train], y=None if y_t is None else y_t[:n_train])
    test = Split(x=x_t[n_train:], y=None if y_t is None else y_t[n_train:])
    info = DataInfo(
        name=name,
        version=version,
        task="density",
        input_shape=(2,),
        num_classes=None,
        class_names=None,
        splits={"train": len(train), "test": len(test)},
        split_note=f"i.i.d. samples, seed={seed}: first {len(train)} train, next {len(test)} test",
    )
    return TensorData(train=train, val=None, test=test, info=info)


@register_dataset("moons", modality="toy2d")
def moons(*, noise: float = 0.05, n_train: int = 10000, n_test: int = 2000, seed: int = 0) -> TensorData:
    """scikit-learn's two interleaving half circles (``make_moons``, shuffled) plus Gaussian noise
    of std ``noise``. y = moon index (0 or 1). x: (N, 2) roughly in [-1, 2] x [-0.5, 1]."""
    _check_sizes(n_train, n_test)
    x, y = sklearn.datasets.make_moons(n_samples=n_train + n_test, noise=noise, random_state=seed)
    return _pack("moons", x, y, n_train=n_train, version=SKLEARN_VERSION, seed=seed)


@register_dataset("ring", modality="toy2d")
def ring(
    *,
    n_modes: int = 8,
    radius: float = 2.0,
    std: float = 0.02,
    n_train: int = 10000,
    n_test: int = 2000,
    seed: int = 0,
) -> TensorData:
    """Equal mixture of ``n_modes`` Gaussians (std ``std``) on a circle of radius ``radius``
    (VEEGAN ring). y = mode index, see :func:`ring_modes`. x: (N, 2)."""
    _check_sizes(n_train, n_test)
    if n_modes < 1:
        raise DataError(f"n_modes must be >= 1, got {n_modes}")
    modes = ring_modes(n_modes=n_modes, radius=radius, std=std)
    x, y = _mixture(modes, n=n_train + n_test, seed=seed)
    return _pack("ring", x, y, n_train=n_train, version=TOY2D_VERSION, seed=seed)


@register_dataset("grid", modality="toy2d")
def grid(*, std: float = 0.05, n_train: int = 10000, n_test: int = 2000, seed: int = 0) -> TensorData:
    """Equal mixture of 25 Gaussians (std ``std``) at {-4, -2, 0, 2, 4}^2 (VEEGAN / PacGAN grid).
    y = mode index, see :func:`grid_modes`. x: (N, 2)."""
    _check_sizes(n_train, n_test)
    x, y = _mixture(grid_modes(std=std), n=n_train + n_test, seed=seed)
    return _pack("grid", x, y, n_train=n_train, version=TOY2D_VERSION, seed=seed)


@register_dataset("swiss_roll", modality="toy2d")
def swiss_roll(*, noise: float = 0.5, n_train: int = 10000, n_test: int = 2000, seed: int = 0) -> TensorData:
    """scikit-learn's 3-D swiss roll (``make_swiss_roll``, noise std ``noise`` before scaling)
    projected on its (x, z) plane and divided by 5, a 2-D spiral roughly in [-2, 2.6]^2. y = None.
    x: (N, 2)."""
    _check_sizes(n_train, n_test)
    x3, _ = sklearn.datasets.make_swiss_roll(n_samples=n_train + n_test, noise=noise, random_state=seed)
    x = x3[:, [0, 2]] / 5.0  # (N, 3) -> (N, 2): drop the height axis y, scale by 1/5
    return _pack("swiss_roll", x, None, n_train=n_train, version=SKLEARN_VERSION, seed=seed)


@register_dataset("checkerboard", modality="toy2d")
def checkerboard(*, n_train: int = 10000, n_test: int = 2000, seed: int = 0) -> TensorData:
    """Uniform on the 8 dark squares of a 4x4 checkerboard on [-4, 4]^2 (squares of side 2), the density
    of the FFJORD / NSF toy figures. y = None. x: (N, 2)."""
    _check_sizes(n_train, n_test)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    # FFJORD's toy_data.py: x1 ~ U[-2, 2), x2 ~ U[0, 1) - 2 Bernoulli(1/2), shifted up by one cell on odd columns
    x1 = rng.uniform(-2, 2, size=n)  # (N,)
    x2 = rng.uniform(0, 1, size=n) - 2 * rng.integers(0, 2, size=n) + np.floor(x1) % 2  # (N,)
    x = 2 * np.stack([x1, x2], axis=1)  # (N, 2) in [-4, 4]^2, squares of side 2
    return _pack("checkerboard", x, None, n_train=n_train, version=TOY2D_VERSION, seed=seed)


@register_dataset("two_spirals", modality="toy2d")
def two_spirals(*, noise: float = 0.1, n_train: int = 10000, n_test: int = 2000, seed: int = 0) -> TensorData:
    """Two interleaved spirals r = theta, theta = 540 deg * sqrt(u) (the FFJORD toy), scaled by 1/3, plus
    Gaussian noise of std ``noise``. y = spiral index. x: (N, 2) roughly in [-3.5, 3.5]^2."""
    _check_sizes(n_train, n_test)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    theta = np.sqrt(rng.uniform(size=n)) * 3 * np.pi  # (N,) up to 540 degrees
    arm = rng.integers(0, 2, size=n)  # (N,) which spiral
    sign = 1 - 2 * arm  # +1 / -1: the second spiral is the first rotated by 180 degrees
    x = sign[:, None] * np.stack([-np.cos(theta) * theta, np.sin(theta) * theta], axis=1) / 3
    x = x + noise * rng.standard_normal((n, 2))
    return _pack("two_spirals", x, arm, n_train=n_train, version=TOY2D_VERSION, seed=seed)
