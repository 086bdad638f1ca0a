"""Registered flow entrypoints and their presets (presets are data: partial run configs).

Vector flows (``realnvp``, ``maf``, ``nsf``, ``ffjord``) on the 2-D toy sets: ``tiny`` (seconds; the
tests), ``default`` = ``moons``, ``ring``, ``swiss_roll``, ``checkerboard``, ``two_spirals`` (3000 Adam
steps of batch 256 on 10000 draws, the benchmark's protocol; ffjord 1000). Image flows (``glow``,
``realnvp_image``): ``tiny`` on scikit-learn's 8x8 digits (17 grey levels), ``mnist`` (8-bit MNIST,
dequantized; benchmarks/flow_mnist.py).
"""

from __future__ import annotations

from dlzoo.families.flow import build
from dlzoo.families.flow.build import check_image_shape, glow_image, maf_vector, nsf_vector, realnvp_vector
from dlzoo.families.flow.base import Compose, Standardization
from dlzoo.families.flow.ffjord import FFJORD
from dlzoo.families.flow.model import Flow, ImageFlow
from dlzoo.families.flow.objective import FlowObjective
from dlzoo.families.flow.pipeline import FlowPipeline
from dlzoo.families.flow.plots import FlowPlots
from dlzoo.registry import register_model

TINY_DATA = {"name": "moons", "n_train": 2000, "n_test": 500}
TINY_TRAIN = {"epochs": 4, "batch_size": 128, "lr": 3e-3, "log_every": 10}
# 10000 train draws, batch 256: 40 steps an epoch, 75 epochs = 3000 Adam steps, cosine decay
TOY_TRAIN = {"epochs": 75, "batch_size": 256, "lr": 1e-3, "scheduler": "cosine", "log_every": 40, "eval_every": 25}


def toy_presets(tiny_model: dict, model: dict, *, train: dict = TOY_TRAIN) -> dict[str, dict]:
    """tiny (2000 moons, seconds) and the benchmark's toy sets: default = moons, ring, swiss_roll."""
    toy = {"model": model, "train": train}
    return {
        "tiny": {"model": tiny_model, "data": TINY_DATA, "train": TINY_TRAIN, "task": {"integration_grid": 100}},
        "default": {**toy, "data": {"name": "moons"}},
        "moons": {**toy, "data": {"name": "moons"}},
        "ring": {**toy, "data": {"name": "ring"}},
        "swiss_roll": {**toy, "data": {"name": "swiss_roll"}},
        "checkerboard": {**toy, "data": {"name": "checkerboard"}},
        "two_spirals": {**toy, "data": {"name": "two_spirals"}},
    }


def _vector(features: tuple[int, ...]) -> int:
    if len(features) != 1:
        from dlzoo.registry import RegistryError

        raise RegistryError(f"vector flows need input_shape (D,); got {tuple(features)} (use glow for images)")
    return int(features[0])


REGISTER = {"family": "flow", "task": "generate", "paradigm": "generative", "objective": FlowObjective}
SERVE = {"pipeline": FlowPipeline, "plots": FlowPlots}


@register_model(
    **REGISTER,
    **SERVE,
    presets=toy_presets({"layers": 4, "hidden": [32, 32]}, {"layers": 8, "hidden": [64, 64]}),
)
def realnvp(
    *, input_shape: tuple[int, ...], layers: int = 8, hidden: tuple[int, ...] = (64, 64), batchnorm: bool = False
) -> Flow:
    """RealNVP (Dinh et al. 2017) for vectors: affine couplings on alternating masks.

    Args:
        input_shape: (D,), filled from the data when unset.
        layers: number of coupling layers (the kept half alternates between them).
        hidden: widths of each coupling's MLP conditioner (x_kept -> log-scale s and shift t).
        batchnorm: a batch-norm bijection between the couplings (RealNVP Sec. 3.7).
    """
    d = _vector(input_shape)
    return Flow(realnvp_vector(d, layers=layers, hidden=tuple(hidden), batchnorm=batchnorm), input_shape=(d,))


@register_model(
    **REGISTER,
    **SERVE,
    presets=toy_presets({"layers": 3, "hidden": [32, 32]}, {"layers": 5, "hidden": [128, 128]}),
)
def maf(
    *, input_shape: tuple[int, ...], layers: int = 5, hidden: tuple[int, ...] = (128, 128), batchnorm: bool = False
) -> Flow:
    """MAF (Papamakarios et al. 2017): MADE-parametrised affine autoregressive layers, order reversed between.

    Args:
        input_shape: (D,), filled from the data when unset.
        layers: number of MAF layers.
        hidden: widths of each MADE's hidden layers (>= D - 1).
        batchnorm: a batch-norm bijection between the layers (Papamakarios et al. Sec. 3.4).
    """
    d = _vector(input_shape)
    return Flow(maf_vector(d, layers=layers, hidden=tuple(hidden), batchnorm=batchnorm), input_shape=(d,))


@register_model(
    **REGISTER,
    **SERVE,
    presets=toy_presets(
        {"layers": 2, "hidden": [32, 32], "bins": 8},
        {"kind": "coupling", "layers": 4, "hidden": [64, 64], "bins": 8},
    ),
)
def nsf(
    *,
    input_shape: tuple[int, ...],
    kind: str = "coupling",
    layers: int = 4,
    hidden: tuple[int, ...] = (64, 64),
    bins: int = 8,
    bound: float = 4.0,
) -> Flow:
    """Neural spline flow (Durkan et al. 2019): monotone rational-quadratic splines with linear tails.

    Args:
        input_shape: (D,), filled from the data when unset.
        kind: coupling (RQ-NSF (C), alternating masks) | autoregressive (RQ-NSF (AR), MADE, order reversed).
        layers: number of spline layers.
        hidden: widths of the conditioner (MLP or MADE).
        bins: K, the spline's bins on [-bound, bound].
        bound: B; the identity outside [-B, B] (on standardized data).
    """
    d = _vector(input_shape)
    transform = nsf_vector(d, kind=kind, layers=layers, hidden=tuple(hidden), bins=bins, bound=bound)
    return Flow(transform, input_shape=(d,))


# -- image flows -------------------------------------------------------------------------------------

DIGITS = {"name": "digits_images"}  # 8x8, 17 grey levels, no download
MNIST = {"name": "mnist", "val_size": 10000}  # 8-bit grey levels in [0, 1]; 50000 / 10000 / 10000
IMAGE_TINY_TRAIN = {"epochs": 2, "batch_size": 64, "lr": 1e-3, "log_every": 10}
MNIST_TRAIN = {"epochs": 1, "batch_size": 64, "lr": 1e-3, "log_every": 50, "grad_clip": 50.0}


def image_presets(tiny: dict, mnist: dict) -> dict[str, dict]:
    return {
        "tiny": {"model": {**tiny, "levels_of_data": 17}, "data": DIGITS, "train": IMAGE_TINY_TRAIN},
        "default": {"model": {**mnist, "levels_of_data": 256}, "data": MNIST, "train": MNIST_TRAIN},
        "mnist": {"model": {**mnist, "levels_of_data": 256}, "data": MNIST, "train": MNIST_TRAIN},
    }


@register_model(
    **REGISTER,
    **SERVE,
    # mnist: a CPU budget (Glow used K = 32 steps of 512 channels per level)
    presets=image_presets({"levels": 2, "steps": 2, "hidden": 16}, {"levels": 2, "steps": 4, "hidden": 32}),
)
def glow(
    *, input_shape: tuple[int, ...], levels: int = 2, steps: int = 8, hidden: int = 64, levels_of_data: int = 256
) -> ImageFlow:
    """Glow (Kingma & Dhariwal 2018) for images: multi-scale [actnorm, invertible 1x1 conv, affine coupling].

    Args:
        input_shape: (C, H, W) with H, W divisible by 2 ** levels; filled from the data when unset.
        levels: number of scales (squeeze, steps, split); 28x28 MNIST allows 2.
        steps: flow steps per scale.
        hidden: channels of each coupling's conv conditioner.
        levels_of_data: L, the grey levels of the data (256 for 8-bit images, 17 for the 8x8 digits).
    """
    check_image_shape(input_shape, levels)
    transform = glow_image(tuple(input_shape), levels=levels, steps=steps, hidden=hidden)
    return ImageFlow(transform, input_shape=tuple(input_shape), levels=levels_of_data)


@register_model(
    **REGISTER,
    **SERVE,
    # mnist: a CPU budget (RealNVP's conditioners were 8 residual blocks of 64 features)
    presets=image_presets({"levels": 2, "steps": 1, "hidden": 16}, {"levels": 2, "steps": 2, "hidden": 32}),
)
def realnvp_image(
    *, input_shape: tuple[int, ...], levels: int = 2, steps: int = 3, hidden: int = 64, levels_of_data: int = 256
) -> ImageFlow:
    """RealNVP (Dinh et al. 2017) for images: checkerboard and channel-wise affine couplings, multi-scale.

    Args:
        input_shape: (C, H, W) with H, W divisible by 2 ** levels; filled from the data when unset.
        levels: number of scales (squeeze, couplings, split); 28x28 MNIST allows 2.
        steps: couplings of each kind per scale.
        hidden: channels of each coupling's conv conditioner.
        levels_of_data: L, the grey levels of the data (256 for 8-bit images, 17 for the 8x8 digits).
    """
    check_image_shape(input_shape, levels)
    transform = build.realnvp_image(tuple(input_shape), levels=levels, steps=steps, hidden=hidden)
    return ImageFlow(transform, input_shape=tuple(input_shape), levels=levels_of_data)


# -- continuous flow -----------------------------------------------------------------------------------

FFJORD_TRAIN = {**TOY_TRAIN, "epochs": 25, "eval_every": 25}  # 1000 steps: each costs ~4 rk4 solves of f


@register_model(
    **REGISTER,
    **SERVE,
    presets=toy_presets({"hidden": [32, 32], "steps": 4}, {"hidden": [64, 64, 64], "steps": 8}, train=FFJORD_TRAIN),
)
def ffjord(
    *,
    input_shape: tuple[int, ...],
    hidden: tuple[int, ...] = (64, 64, 64),
    solver: str = "rk4",
    steps: int = 8,
    hutchinson: bool = True,
) -> Flow:
    """FFJORD (Grathwohl et al. 2019): a continuous normalizing flow, dx/dt = f(x, t) on t in [0, 1].

    Args:
        input_shape: (D,), filled from the data when unset.
        hidden: widths of the dynamics MLP f([x, t]) (tanh).
        solver: torchdiffeq's method: rk4 | midpoint | euler (fixed ``steps``) | dopri5 (adaptive, not exportable).
        steps: steps of a fixed-grid solver on [0, 1].
        hutchinson: Hutchinson's trace estimator in training (exact trace in evaluation either way).
    """
    d = _vector(input_shape)
    transform = Compose(
        [Standardization(d), FFJORD(d, tuple(hidden), solver=solver, steps=steps, hutchinson=hutchinson)]
    )
    return Flow(transform, input_shape=(d,))
