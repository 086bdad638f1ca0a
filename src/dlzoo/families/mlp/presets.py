"""Registered MLP entrypoints and their presets (presets are data: partial run configs)."""

from __future__ import annotations

from dlzoo.families.mlp.model import MLP
from dlzoo.registry import register_model

TINY_TRAIN = {"epochs": 30, "batch_size": 64, "lr": 3e-3, "log_every": 10}


@register_model(
    family="mlp",
    task="classify",
    paradigm="supervised",
    presets={
        # seconds on CPU: digits reaches > 0.93 test accuracy
        "tiny": {"model": {"hidden": [64]}, "data": {"name": "digits"}, "train": TINY_TRAIN},
        # tabular default: one recipe for digits / breast_cancer / wine (benchmarks/tabular.py), chosen by
        # 5-fold CV on the training part only: one hidden layer beat two, label smoothing helped all three
        "default": {
            "model": {"hidden": [256], "dropout": 0.2},
            "data": {"name": "digits"},
            "task": {"label_smoothing": 0.1},
            "train": {
                "epochs": 100,
                "batch_size": 64,
                "lr": 1e-3,
                "weight_decay": 1e-4,
                "scheduler": "cosine",
                "log_every": 20,
            },
        },
        # MNIST: the classic 2 x 800 network of Simard et al. (2003), 98.4% and better; dropout, label
        # smoothing and 15 cosine epochs chosen on the 5000-image val split (~2.5 min per seed on one CPU core)
        "mnist": {
            "model": {"hidden": [800, 800], "dropout": 0.2, "standardize_input": False},
            "data": {"name": "mnist", "flatten": True, "val_size": 5000},
            "task": {"label_smoothing": 0.1},
            "train": {"epochs": 15, "batch_size": 128, "lr": 1e-3, "scheduler": "cosine", "log_every": 50},
        },
    },
)
def mlp_classifier(
    *,
    in_features: int,
    num_classes: int,
    hidden: tuple[int, ...] = (256, 256),
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    standardize_input: bool = True,
) -> MLP:
    """MLP classifier: standardized features -> hidden ReLU layers -> class logits.

    Args:
        num_classes: number of classes (logits of the output layer); filled from the data when unset.

    The other arguments are MLP's.
    """
    return MLP(
        in_features=in_features,
        out_features=num_classes,
        hidden=hidden,
        activation=activation,
        dropout=dropout,
        batch_norm=batch_norm,
        standardize_input=standardize_input,
    )


@register_model(
    family="mlp",
    task="regress",
    paradigm="supervised",
    presets={
        "tiny": {"model": {"hidden": [32]}, "data": {"name": "diabetes"}, "train": TINY_TRAIN},
        "default": {
            "model": {"hidden": [128, 128], "dropout": 0.1},
            "data": {"name": "diabetes"},
            "train": {"epochs": 200, "batch_size": 32, "lr": 1e-3, "weight_decay": 1e-4, "log_every": 20},
        },
    },
)
def mlp_regressor(
    *,
    in_features: int,
    out_features: int = 1,
    hidden: tuple[int, ...] = (128, 128),
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> MLP:
    """MLP regressor: standardized features in, target units out (targets standardized internally).

    Args:
        out_features: regression targets per example; filled from the data when unset.

    The other arguments are MLP's.
    """
    return MLP(
        in_features=in_features,
        out_features=out_features,
        hidden=hidden,
        activation=activation,
        dropout=dropout,
        batch_norm=batch_norm,
        target_norm=True,
    )
