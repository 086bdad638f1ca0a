"""Registered CNN entrypoints and their presets (presets are data: partial run configs).

Time-series presets follow Fawaz et al. (2019), "Deep learning for time series classification: a
review", DMKD, Section 4.1, on a CPU budget: Adam lr 1e-3, the archive's train/test split, no val.
Their runs use 2000 (FCN) / 1500 (ResNet) epochs with ReduceLROnPlateau on the training loss and
keep the weights of minimum training loss; here a cosine schedule to zero over fewer epochs ends
at a converged model instead (benchmarks/ucr.py records the exact protocol).
"""

from __future__ import annotations

from dlzoo.families.cnn.model import FCN, InceptionTime, LeNet, ResNet1d
from dlzoo.registry import register_model

# a few seconds on CPU: generated Cylinder-Bell-Funnel, 30 train / 300 test series
TINY_TS = {"name": "cbf", "n_train": 30, "n_test": 300}
TINY_TRAIN = {"epochs": 30, "batch_size": 16, "lr": 1e-2, "log_every": 2}
# the UCR recipe (benchmarks/ucr.py): no checkpoint per epoch, it would cost more than the epoch
UCR_TRAIN = {
    "batch_size": 16,
    "lr": 1e-3,
    "scheduler": "cosine",
    "log_every": 10,
    "eval_every": 1000,
    "checkpoint_every": 1000,
}


@register_model(
    family="cnn",
    task="classify",
    paradigm="supervised",
    presets={
        "tiny": {"model": {"filters": [16, 32, 16]}, "data": TINY_TS, "train": TINY_TRAIN},
        "default": {"data": {"name": "cbf"}, "train": {**UCR_TRAIN, "epochs": 200}},
        "ucr": {"data": {"name": "ucr", "dataset": "GunPoint"}, "train": {**UCR_TRAIN, "epochs": 80}},
    },
)
def fcn_tsc(
    *,
    in_channels: int,
    num_classes: int,
    filters: tuple[int, ...] = (128, 256, 128),
    kernel_sizes: tuple[int, ...] = (8, 5, 3),
) -> FCN:
    """FCN for time-series classification (Wang et al. 2017): 3 conv-BN-ReLU blocks, global average pooling."""
    return FCN(in_channels=in_channels, num_classes=num_classes, filters=filters, kernel_sizes=kernel_sizes)


@register_model(
    family="cnn",
    task="classify",
    paradigm="supervised",
    presets={
        "tiny": {"model": {"filters": [8, 16, 16]}, "data": TINY_TS, "train": TINY_TRAIN},
        "default": {"data": {"name": "cbf"}, "train": {**UCR_TRAIN, "epochs": 150}},
        "ucr": {"data": {"name": "ucr", "dataset": "GunPoint"}, "train": {**UCR_TRAIN, "epochs": 50}},
    },
)
def resnet_tsc(
    *,
    in_channels: int,
    num_classes: int,
    filters: tuple[int, ...] = (64, 128, 128),
    kernel_sizes: tuple[int, ...] = (8, 5, 3),
) -> ResNet1d:
    """ResNet for time-series classification (Wang et al. 2017): 3 residual blocks of 3 convs, GAP."""
    return ResNet1d(in_channels=in_channels, num_classes=num_classes, filters=filters, kernel_sizes=kernel_sizes)


@register_model(
    family="cnn",
    task="classify",
    paradigm="supervised",
    presets={
        "tiny": {
            "model": {"depth": 3, "filters": 8, "bottleneck": 8, "kernel_sizes": [10, 6, 3]},
            "data": TINY_TS,
            "train": TINY_TRAIN,
        },
        # Fawaz et al. 2020: batch 64, Adam 1e-3, 1500 epochs; one network, not the ensemble of five
        "default": {"data": {"name": "cbf"}, "train": {**UCR_TRAIN, "batch_size": 64, "epochs": 150}},
    },
)
def inception_time(
    *,
    in_channels: int,
    num_classes: int,
    depth: int = 6,
    filters: int = 32,
    bottleneck: int = 32,
    kernel_sizes: tuple[int, ...] = (40, 20, 10),
    residual_every: int = 3,
) -> InceptionTime:
    """InceptionTime network (Fawaz et al. 2020): 6 Inception modules, a shortcut every 3, GAP."""
    return InceptionTime(
        in_channels=in_channels,
        num_classes=num_classes,
        depth=depth,
        filters=filters,
        bottleneck=bottleneck,
        kernel_sizes=kernel_sizes,
        residual_every=residual_every,
    )


@register_model(
    family="cnn",
    task="classify",
    paradigm="supervised",
    presets={
        # seconds: scikit-learn's 8x8 digits reach > 0.95 test accuracy
        "tiny": {
            "model": {"channels": [8, 16], "kernel_size": 3, "hidden": 32, "dropout": 0.0},
            "data": {"name": "digits_images"},
            "train": {"epochs": 8, "batch_size": 64, "lr": 3e-3, "log_every": 10},
        },
        "default": {
            "model": {"channels": [16, 32], "kernel_size": 3, "hidden": 64},
            "data": {"name": "digits_images"},
            "train": {"epochs": 40, "batch_size": 64, "lr": 2e-3, "scheduler": "cosine", "log_every": 20},
        },
        # MNIST >= 99.2% (benchmarks/mnist_cnn.py); the last 5000 training images are val
        "mnist": {
            "model": {"channels": [16, 32], "kernel_size": 5, "hidden": 256, "dropout": 0.5},
            "data": {"name": "mnist", "val_size": 5000},
            "task": {"label_smoothing": 0.1},
            "train": {"epochs": 12, "batch_size": 128, "lr": 2e-3, "scheduler": "cosine", "log_every": 50},
        },
    },
)
def lenet(
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    channels: tuple[int, int] = (32, 64),
    kernel_size: int = 5,
    hidden: int = 256,
    dropout: float = 0.5,
) -> LeNet:
    """LeNet-style 2-D CNN (LeCun et al. 1998) with BatchNorm and dropout, for digits and MNIST."""
    return LeNet(
        input_shape=input_shape,
        num_classes=num_classes,
        channels=channels,
        kernel_size=kernel_size,
        hidden=hidden,
        dropout=dropout,
    )
