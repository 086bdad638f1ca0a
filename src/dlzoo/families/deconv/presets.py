"""Registered deconv entrypoints and their presets (presets are data: partial run configs).

``upsampler``: single-image super-resolution with one kind of upsampling block. Presets: ``tiny`` (8x8
digits from 4x4, seconds, used by the tests), ``default`` (8x8 digits, under a minute), ``mnist``
(14x14 -> 28x28) and ``mnist_x4`` (7x7 -> 28x28), the configurations of benchmarks/superres_mnist.py.
The factor is set twice, in ``data`` (how x is made) and ``model`` (how many upsampling stages);
the objective refuses a mismatch with a message saying so.
"""

from __future__ import annotations

from dlzoo.families.deconv.model import Upsampler
from dlzoo.families.deconv.objective import SuperResObjective
from dlzoo.families.deconv.pipeline import SuperResPipeline
from dlzoo.registry import register_model

DIGITS = {"name": "superres", "source": "digits_images", "factor": 2}  # scikit-learn 8x8 digits: no download
MNIST = {"name": "superres", "source": "mnist", "val_size": 5000}  # last 5000 training images held out


@register_model(
    family="deconv",
    task="regress",
    paradigm="supervised",
    objective=SuperResObjective,
    pipeline=SuperResPipeline,
    presets={
        "tiny": {
            "model": {"channels": 16, "depth": 1, "factor": 2},
            "data": DIGITS,
            "train": {"epochs": 15, "batch_size": 64, "lr": 3e-3, "log_every": 10},
        },
        "default": {
            "model": {"channels": 32, "depth": 2, "factor": 2},
            "data": {**DIGITS, "val_size": 0.2},
            "train": {"epochs": 60, "batch_size": 64, "lr": 2e-3, "scheduler": "cosine", "log_every": 20},
        },
        # ESPCN-sized (Shi et al. 2016 use 64-32 feature maps; 32-32 here for CPU), Adam, cosine
        "mnist": {
            "model": {"channels": 32, "depth": 2, "factor": 2},
            "data": {**MNIST, "factor": 2},
            "train": {"epochs": 5, "batch_size": 64, "lr": 2e-3, "scheduler": "cosine", "log_every": 100},
        },
        "mnist_x4": {
            "model": {"channels": 32, "depth": 2, "factor": 4},
            "data": {**MNIST, "factor": 4},
            "task": {"artifact_stride": 4},
            "train": {"epochs": 5, "batch_size": 64, "lr": 2e-3, "scheduler": "cosine", "log_every": 100},
        },
    },
)
def upsampler(
    *,
    input_shape: tuple[int, ...],
    block: str = "shuffle",
    kernel_size: int | None = None,
    channels: int = 32,
    depth: int = 2,
    factor: int = 2,
    icnr: bool = True,
) -> Upsampler:
    """Super-resolution decoder: conv features on the low-res grid, log2(factor) upsampling blocks, conv out.

    Args:
        input_shape: low-resolution image shape (C, h, w); only C is used; filled from the data when unset.

    The other arguments are Upsampler's.
    """
    return Upsampler(
        in_channels=int(input_shape[0]),
        block=block,
        kernel_size=kernel_size,
        channels=channels,
        depth=depth,
        factor=factor,
        icnr=icnr,
    )
