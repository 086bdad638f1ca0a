"""Registered entrypoints: the encoder-only classifier and the encoder-decoder seq2seq model.

Imported from ``presets.py`` (the family's registry module). Presets are data: partial run configs.
``seq2seq`` has one canonical preset per synthetic task (copy, reverse, sort, addition), used by
``benchmarks/seq2seq_tasks.py``; ``transformer_classifier`` reads MNIST row by row.
"""

from __future__ import annotations

from dlzoo.families.transformer.classifier import EncoderClassifier
from dlzoo.families.transformer.seq2seq import Seq2SeqTransformer
from dlzoo.families.transformer.seq2seq_objective import Seq2SeqObjective
from dlzoo.families.transformer.seq2seq_pipeline import Seq2SeqPipeline
from dlzoo.registry import register_model


@register_model(
    family="transformer",
    task="classify",
    paradigm="supervised",
    presets={
        # seconds on CPU: 8x8 digits as 8 rows of 8 pixels
        "tiny": {
            "model": {"d_model": 32, "n_heads": 2, "n_layers": 1, "dropout": 0.0},
            "data": {"name": "digits_images"},
            "train": {"epochs": 12, "batch_size": 64, "lr": 3e-3, "log_every": 10},
        },
        "default": {
            "model": {"d_model": 64, "n_heads": 4, "n_layers": 2, "dropout": 0.1},
            "data": {"name": "digits_images", "val_size": 0.2},
            "train": {
                "epochs": 100,
                "batch_size": 64,
                "lr": 1e-3,
                "weight_decay": 0.01,
                "optimizer": "adamw",
                "scheduler": "cosine",
                "grad_clip": 1.0,
                "log_every": 20,
            },
        },
        # MNIST as 28 rows of 28 pixels; 5000 training images held out as val
        "mnist": {
            "model": {"d_model": 64, "n_heads": 4, "n_layers": 3, "dropout": 0.1},
            "data": {"name": "mnist", "val_size": 5000},
            "train": {
                "epochs": 6,
                "batch_size": 128,
                "lr": 1e-3,
                "weight_decay": 0.01,
                "optimizer": "adamw",
                "scheduler": "cosine",
                "grad_clip": 1.0,
                "log_every": 50,
            },
        },
    },
)
def transformer_classifier(
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    d_model: int = 64,
    n_heads: int = 4,
    n_layers: int = 2,
    d_ff: int | None = None,
    dropout: float = 0.1,
    pool: str = "cls",
    positions: str = "learned",
) -> EncoderClassifier:
    """Encoder-only Transformer classifier: rows of an image (or any sequence of vectors) -> class logits."""
    return EncoderClassifier(
        input_shape=tuple(input_shape),
        num_classes=num_classes,
        d_model=d_model,
        n_heads=n_heads,
        n_layers=n_layers,
        d_ff=d_ff,
        dropout=dropout,
        pool=pool,
        positions=positions,
    )


def _task_preset(data: dict, *, epochs: int, model: dict | None = None, lr: float = 1e-3) -> dict:
    return {
        "model": {
            "d_model": 128,
            "n_heads": 4,
            "n_encoder_layers": 2,
            "n_decoder_layers": 2,
            "dropout": 0.0,
            **(model or {}),
        },
        "data": data,
        "train": {
            "epochs": epochs,
            "batch_size": 128,
            "lr": lr,
            "optimizer": "adamw",
            "weight_decay": 0.01,
            "scheduler": "cosine",
            "grad_clip": 1.0,
            "log_every": 50,
        },
    }


SEQ2SEQ_PRESETS = {
    # seconds on CPU: reverse 1..5 symbols of 5
    "tiny": {
        "model": {"d_model": 32, "n_heads": 2, "n_encoder_layers": 1, "n_decoder_layers": 1, "dropout": 0.0},
        "data": {
            "name": "reverse",
            "min_length": 1,
            "max_length": 5,
            "n_symbols": 5,
            "n_train": 1000,
            "n_val": 50,
            "n_test": 100,
        },
        "train": {"epochs": 15, "batch_size": 64, "lr": 3e-3, "log_every": 5},
    },
    "default": _task_preset({"name": "sort"}, epochs=3),
    "copy": _task_preset({"name": "copy"}, epochs=5),
    "reverse": _task_preset({"name": "reverse"}, epochs=5),
    "sort": _task_preset({"name": "sort"}, epochs=3),
    "addition": _task_preset({"name": "addition"}, epochs=15),
}


@register_model(
    family="transformer",
    task="generate",
    paradigm="seq2seq",
    objective=Seq2SeqObjective,
    pipeline=Seq2SeqPipeline,
    presets=SEQ2SEQ_PRESETS,
)
def seq2seq(
    *,
    vocab_size: int,
    max_len: int,
    pad_id: int = 0,
    d_model: int = 128,
    n_heads: int = 4,
    n_encoder_layers: int = 2,
    n_decoder_layers: int = 2,
    d_ff: int | None = None,
    dropout: float = 0.1,
    positions: str = "sinusoidal",
    activation: str = "relu",
) -> Seq2SeqTransformer:
    """Encoder-decoder Transformer (Vaswani et al. 2017), pre-norm, tied embeddings; greedy/beam decoding."""
    return Seq2SeqTransformer(
        vocab_size=vocab_size,
        max_len=max_len,
        pad_id=pad_id,
        d_model=d_model,
        n_heads=n_heads,
        n_encoder_layers=n_encoder_layers,
        n_decoder_layers=n_decoder_layers,
        d_ff=d_ff,
        dropout=dropout,
        positions=positions,
        activation=activation,
    )
