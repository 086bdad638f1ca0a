"""Registered CNN entrypoints and their presets (presets are data: partial run configs).

Time-series presets follow Fawaz et al. (2019), "Deep learning for time series classification: a
review", DMKD, Section 4.1. ``fawaz2019`` (FCN, ResNet) is their protocol as published: Adam lr 1e-3,
batch min(N_train / 10, 16) (FCN) or min(N_train / 10, 64) (ResNet), 2000 / 1500 epochs,
ReduceLROnPlateau on the training loss (factor 0.5, patience 50, min lr 1e-4), and the weights of
the epoch of minimum training loss. ``ucr`` and ``default`` are the CPU budget: the same batch rule,
a cosine schedule to zero over 80 / 50 (ucr) epochs, the last weights. ``fawaz2020`` is
InceptionTime's own protocol (Fawaz et al. 2020: batch 64, 1500 epochs, the same plateau schedule and
selection; one network, not the ensemble of five).
"""

from __future__ import annotations

from dlzoo.families.cnn.model import FCN, InceptionTime, LeNet, ResNet1d
from dlzoo.registry import register_model

# a few seconds on CPU: generated Cylinder-Bell-Funnel, 30 train / 300 test series
TINY_TS = {"name": "cbf", "n_train": 30, "n_test": 300}
TINY_TRAIN = {"epochs": 30, "batch_size": 16, "lr": 1e-2, "log_every": 2}
# the UCR recipe (benchmarks/ucr.py): no checkpoint per epoch, it would cost more than the epoch;
# batch = min(batch_size, N_train / 10), the rule of Fawaz et al.'s code
UCR_TRAIN = {
    "batch_size": 16,
    "batch_fraction": 0.1,
    "lr": 1e-3,
    "scheduler": "cosine",
    "log_every": 10,
    "eval_every": 1000,
    "checkpoint_every": 1000,
}
# Fawaz et al. (2019, 2020) as published: Keras's ReduceLROnPlateau(monitor="loss", factor=0.5, patience=50,
# min_lr=1e-4) and ModelCheckpoint(monitor="loss", save_best_only=True), i.e. keep the lowest training loss
FAWAZ_TRAIN = {
    **UCR_TRAIN,
    "scheduler": "plateau",
    "plateau_factor": 0.5,
    "plateau_patience": 50,
    "min_lr": 1e-4,
    "keep_best": {"monitor": "train/loss", "mode": "min"},
}
UCR_DATA = {"name": "ucr", "dataset": "GunPoint"}


@register_model(
    family="cnn",
    task="classify",
    paradigm="supervised",
    presets={
        "tiny": {"model": {"filters": [16, 32, 16]}, "data": TINY_TS, "train": TINY_TRAIN},
        "default": {"data": {"name": "cbf"}, "train": {**UCR_TRAIN, "epochs": 200}},
        "ucr": {"data": UCR_DATA, "train": {**UCR_TRAIN, "epochs": 80}},
        "fawaz2019": {"data": UCR_DATA, "train": {**FAWAZ_TRAIN, "epochs": 2000}},
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
        "default": {"data": {"name": "cbf"}, "train": {**UCR_TRAIN, "batch_size": 64, "epochs": 150}},
        "ucr": {"data": UCR_DATA, "train": {**UCR_TRAIN, "batch_size": 64, "epochs": 50}},
        "fawaz2019": {"data": UCR_DATA, "train": {**FAWAZ_TRAIN, "batch_size": 64, "epochs": 1500}},
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
        "default": {
            "data": {"name": "cbf"},
            "train": {**UCR_TRAIN, "batch_size": 64, "batch_fraction": None, "epochs": 150},
        },
        # InceptionTime's own protocol (Fawaz et al. 2020, their code): batch 64, 1500 epochs, plateau, min train loss
        "fawaz2020": {
            "data": UCR_DATA,
            "train": {**FAWAZ_TRAIN, "batch_size": 64, "batch_fraction": None, "epochs": 1500},
        },
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
