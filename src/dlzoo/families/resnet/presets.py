"""Registered residual-network entrypoints and their presets (presets are data: partial run configs)."""

from __future__ import annotations

from dlzoo.families.resnet.model import ConvResNet, ResidualMLP
from dlzoo.registry import register_model

TINY_TRAIN = {"epochs": 10, "batch_size": 64, "lr": 3e-3, "log_every": 10}


@register_model(
    family="resnet",
    task="classify",
    paradigm="supervised",
    presets={
        # seconds: digits > 0.93 test accuracy
        "tiny": {"model": {"d": 32, "d_hidden": 64, "n_blocks": 2}, "data": {"name": "digits"}, "train": TINY_TRAIN},
        "default": {
            "model": {"d": 128, "d_hidden": 256, "n_blocks": 2, "dropout_hidden": 0.2},
            "data": {"name": "digits"},
            "train": {
                "epochs": 100,
                "batch_size": 64,
                "lr": 1e-3,
                "weight_decay": 1e-4,
                "scheduler": "cosine",
                "log_every": 20,
            },
        },
        # the degradation study (benchmarks/degradation.py): 2 * n_blocks + 2 layers of width 64, no dropout
        "depth": {
            "model": {"d": 64, "d_hidden": 64, "n_blocks": 7, "dropout_hidden": 0.0, "residual": True},
            "data": {"name": "mnist", "flatten": True, "limit": 10000},
            "train": {"epochs": 10, "batch_size": 128, "lr": 1e-3, "log_every": 20, "checkpoint_every": 1000},
        },
    },
)
def resmlp_classifier(
    *,
    in_features: int,
    num_classes: int,
    d: int = 128,
    d_hidden: int = 256,
    n_blocks: int = 2,
    norm: str = "batch",
    dropout_hidden: float = 0.1,
    dropout_residual: float = 0.0,
    residual: bool = True,
) -> ResidualMLP:
    """Residual MLP classifier (Gorishniy et al. 2021): Linear, n_blocks x (Norm-Linear-ReLU-Linear + x), head.

    Args:
        num_classes: number of classes (logits of the head); filled from the data when unset.

    The other arguments are ResidualMLP's.
    """
    return ResidualMLP(
        in_features=in_features,
        out_features=num_classes,
        d=d,
        d_hidden=d_hidden,
        n_blocks=n_blocks,
        norm=norm,
        dropout_hidden=dropout_hidden,
        dropout_residual=dropout_residual,
        residual=residual,
    )


@register_model(
    family="resnet",
    task="regress",
    paradigm="supervised",
    presets={
        "tiny": {
            "model": {"d": 32, "d_hidden": 64, "n_blocks": 1, "norm": "layer", "dropout_hidden": 0.3},
            "data": {"name": "diabetes"},
            "train": {**TINY_TRAIN, "lr": 1e-3, "weight_decay": 0.01},
        },
        "default": {
            "model": {"d": 128, "d_hidden": 256, "n_blocks": 2, "norm": "layer", "dropout_hidden": 0.1},
            "data": {"name": "diabetes"},
            "train": {"epochs": 200, "batch_size": 32, "lr": 1e-3, "weight_decay": 1e-4, "log_every": 20},
        },
    },
)
def resmlp_regressor(
    *,
    in_features: int,
    out_features: int = 1,
    d: int = 128,
    d_hidden: int = 256,
    n_blocks: int = 2,
    norm: str = "layer",
    dropout_hidden: float = 0.1,
    dropout_residual: float = 0.0,
    residual: bool = True,
) -> ResidualMLP:
    """Residual MLP regressor (Gorishniy et al. 2021); targets standardized internally, target units out.

    Args:
        out_features: regression targets per example; filled from the data when unset.

    The other arguments are ResidualMLP's.
    """
    return ResidualMLP(
        in_features=in_features,
        out_features=out_features,
        d=d,
        d_hidden=d_hidden,
        n_blocks=n_blocks,
        norm=norm,
        dropout_hidden=dropout_hidden,
        dropout_residual=dropout_residual,
        residual=residual,
        target_norm=True,
    )


@register_model(
    family="resnet",
    task="classify",
    paradigm="supervised",
    presets={
        "tiny": {
            "model": {"blocks": 1, "width": 8},
            "data": {"name": "cbf", "n_train": 90, "n_test": 300},
            "train": {"epochs": 20, "batch_size": 16, "lr": 1e-2, "log_every": 5},
        },
        "default": {
            "model": {"blocks": 3, "width": 16},
            "data": {"name": "cbf"},
            "train": {"epochs": 100, "batch_size": 16, "lr": 1e-3, "scheduler": "cosine", "log_every": 10},
        },
    },
)
def resnet1d(
    *, in_channels: int, num_classes: int, blocks: int = 3, width: int = 16, residual: bool = True
) -> ConvResNet:
    """1-D CIFAR-style ResNet (He et al. 2016): 3 stages of basic blocks, depth 6 * blocks + 2; residual switch."""
    return ConvResNet(
        in_channels=in_channels, num_classes=num_classes, dims=1, blocks=blocks, width=width, residual=residual
    )


@register_model(
    family="resnet",
    task="classify",
    paradigm="supervised",
    presets={
        "tiny": {
            "model": {"blocks": 1, "width": 8},
            "data": {"name": "digits_images"},
            "train": {"epochs": 4, "batch_size": 64, "lr": 3e-3, "log_every": 10},
        },
        "default": {
            "model": {"blocks": 3, "width": 16},
            "data": {"name": "digits_images"},
            "train": {"epochs": 40, "batch_size": 64, "lr": 2e-3, "scheduler": "cosine", "log_every": 20},
        },
        "mnist": {
            "model": {"blocks": 3, "width": 16},
            "data": {"name": "mnist", "val_size": 5000},
            "train": {"epochs": 10, "batch_size": 128, "lr": 2e-3, "scheduler": "cosine", "log_every": 50},
        },
    },
)
def resnet2d(
    *, in_channels: int, num_classes: int, blocks: int = 3, width: int = 16, residual: bool = True
) -> ConvResNet:
    """2-D CIFAR-style ResNet (He et al. 2016): 3 stages of basic blocks, depth 6 * blocks + 2; residual switch."""
    return ConvResNet(
        in_channels=in_channels, num_classes=num_classes, dims=2, blocks=blocks, width=width, residual=residual
    )
