"""Registered recurrent entrypoints and their presets (presets are data: partial run configs).

All models train with ``fused=True`` (torch's kernels); ``model.fused=false`` runs the same weights
through our cells (cells.py), step by step: the parity tests show both give the same numbers.
"""

from __future__ import annotations

from dlzoo.families.rnn.model import CharRNN, SequenceModel
from dlzoo.families.rnn.objective import ForecastObjective
from dlzoo.families.transformer.objective import LanguageModelObjective
from dlzoo.families.transformer.pipeline import LanguagePipeline
from dlzoo.registry import register_model


def _features(input_shape: tuple[int, ...]) -> int:
    if len(input_shape) != 2:
        raise ValueError(f"recurrent models need sequences: input_shape (steps, features), got {tuple(input_shape)}")
    return int(input_shape[-1])


@register_model(
    family="rnn",
    task="classify",
    paradigm="supervised",
    presets={
        # seconds on CPU: 8x8 digits read row by row (8 steps of 8 pixels), > 0.9 test accuracy
        "tiny": {
            "model": {"cell": "lstm", "hidden": 32},
            "data": {"name": "seq_digits"},
            "train": {"epochs": 15, "batch_size": 64, "lr": 1e-2, "log_every": 10},
        },
        "default": {
            "model": {"cell": "lstm", "hidden": 64},
            "data": {"name": "seq_digits", "val_size": 0.1},
            "train": {"epochs": 40, "batch_size": 64, "lr": 3e-3, "scheduler": "cosine", "grad_clip": 1.0},
        },
        # sequential MNIST, row by row (28 steps of 28 pixels); benchmarks/seq_mnist.py (also model.cell=gru)
        "seq_mnist": {
            "model": {"cell": "lstm", "hidden": 128},
            "data": {"name": "seq_mnist", "val_size": 5000},
            "train": {
                "epochs": 6,
                "batch_size": 128,
                "lr": 2e-3,
                "scheduler": "cosine",
                "grad_clip": 1.0,
                "log_every": 50,
            },
        },
    },
)
def rnn_classifier(
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    cell: str = "lstm",
    hidden: int = 128,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    fused: bool = True,
    standardize_input: bool = True,
) -> SequenceModel:
    """Sequence classifier: an RNN / LSTM / GRU read out at the last step -> class logits.

    Args:
        input_shape: (steps, features) of one sequence; filled from the data when unset.
        num_classes: number of classes (logits of the head); filled from the data when unset.

    The other arguments are SequenceModel's.
    """
    return SequenceModel(
        cell=cell,
        in_features=_features(input_shape),
        out_features=num_classes,
        hidden=hidden,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=dropout,
        fused=fused,
        standardize_input=standardize_input,
    )


@register_model(
    family="rnn",
    task="regress",
    paradigm="supervised",
    presets={
        "tiny": {
            "model": {"cell": "lstm", "hidden": 16},
            "data": {"name": "adding", "steps": 10, "n_train": 1000, "n_val": 0, "n_test": 200},
            "train": {"epochs": 5, "batch_size": 50, "lr": 1e-2, "log_every": 10},
        },
        # the adding problem, T = 100 (benchmarks/adding_problem.py draws fresh sequences instead)
        "default": {
            "model": {"cell": "lstm", "hidden": 128, "standardize_input": False},
            "data": {"name": "adding", "steps": 100, "n_train": 50000},
            "train": {"epochs": 10, "batch_size": 50, "lr": 1e-3, "grad_clip": 1.0, "log_every": 100},
        },
    },
)
def rnn_regressor(
    *,
    input_shape: tuple[int, ...],
    out_features: int = 1,
    cell: str = "lstm",
    hidden: int = 128,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    fused: bool = True,
    standardize_input: bool = True,
) -> SequenceModel:
    """Sequence regressor: an RNN / LSTM / GRU read out at the last step -> a value (target units).

    Args:
        input_shape: (steps, features) of one sequence; filled from the data when unset.
        out_features: regression targets per sequence; filled from the data when unset.

    The other arguments are SequenceModel's; targets are standardized (target_norm).
    """
    return SequenceModel(
        cell=cell,
        in_features=_features(input_shape),
        out_features=out_features,
        hidden=hidden,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=dropout,
        fused=fused,
        standardize_input=standardize_input,
        target_norm=True,
    )


@register_model(
    family="rnn",
    task="regress",
    paradigm="supervised",
    objective=ForecastObjective,
    presets={
        "tiny": {
            "model": {"cell": "gru", "hidden": 16},
            "data": {"name": "sunspots", "window": 12},
            "train": {"epochs": 10, "batch_size": 32, "lr": 1e-2, "log_every": 5},
        },
        # yearly sunspots, one step ahead; benchmarks/sunspots.py compares with ARIMA and seasonal naive.
        # window 12 chosen on val over 24 (val/mase 0.80 vs 1.02, seeds 0-1); GRU and 64 units were no better
        "default": {
            "model": {"cell": "lstm", "hidden": 32},
            "data": {"name": "sunspots", "window": 12},
            "train": {
                "epochs": 150,
                "batch_size": 16,
                "lr": 3e-3,
                "weight_decay": 1e-4,
                "scheduler": "cosine",
                "grad_clip": 1.0,
                "log_every": 20,
            },
        },
    },
)
def rnn_forecaster(
    *,
    input_shape: tuple[int, ...],
    out_features: int = 1,
    cell: str = "lstm",
    hidden: int = 32,
    num_layers: int = 1,
    dropout: float = 0.0,
    fused: bool = True,
) -> SequenceModel:
    """One-step-ahead forecaster: past window -> next value; reports MASE and sMAPE.

    Args:
        input_shape: (window, features) of one past window; filled from the data when unset.
        out_features: values predicted for the next step; filled from the data when unset.

    The other arguments are SequenceModel's; targets are standardized (target_norm).
    """
    return SequenceModel(
        cell=cell,
        in_features=_features(input_shape),
        out_features=out_features,
        hidden=hidden,
        num_layers=num_layers,
        dropout=dropout,
        fused=fused,
        target_norm=True,
    )


# -- character-level language model: the language paradigm (dlzoo/tasks/language.py) -------------------

# Karpathy's char-rnn defaults (train.lua): 2 layers of 128 LSTM units, seq_length 50, batch 50, lr 2e-3
CHAR_RNN = {
    "model": {"cell": "lstm", "n_embd": 64, "hidden": 128, "num_layers": 2, "dropout": 0.0},
    "data": {"name": "tinyshakespeare"},
    "task": {
        "block_size": 50,
        "max_iters": 2000,
        "eval_interval": 250,
        "eval_iters": 20,
        "warmup_iters": 0,
        "min_lr": 2e-4,
        "beta1": 0.9,
        "beta2": 0.99,
    },
    "train": {"batch_size": 50, "optimizer": "adam", "lr": 2e-3, "grad_clip": 5.0, "log_every": 50},
}


@register_model(
    family="rnn",
    task="generate",
    paradigm="language",
    objective=LanguageModelObjective,
    pipeline=LanguagePipeline,
    presets={
        "tiny": {
            "model": {"cell": "lstm", "n_embd": 16, "hidden": 48, "num_layers": 1},
            "data": {"name": "toy_text", "n_chars": 20000},
            "task": {
                "block_size": 32,
                "max_iters": 120,
                "eval_interval": 60,
                "eval_iters": 4,
                "warmup_iters": 0,
                "min_lr": 3e-3,
            },
            "train": {"batch_size": 16, "optimizer": "adam", "lr": 1e-2, "grad_clip": 5.0, "log_every": 20},
        },
        "default": CHAR_RNN,
        "shakespeare": CHAR_RNN,
    },
)
def char_lstm(
    *,
    vocab_size: int,
    cell: str = "lstm",
    n_embd: int = 64,
    hidden: int = 128,
    num_layers: int = 2,
    dropout: float = 0.0,
    fused: bool = True,
) -> CharRNN:
    """Character-level recurrent language model (char-rnn): embedding -> stacked LSTM/GRU/RNN -> logits."""
    return CharRNN(
        vocab_size=vocab_size,
        cell=cell,
        n_embd=n_embd,
        hidden=hidden,
        num_layers=num_layers,
        dropout=dropout,
        fused=fused,
    )
