"""An encoder-only Transformer classifier over a sequence of feature vectors (the encoder of
Vaswani et al. 2017 with a classification head, as BERT's [CLS] token (Devlin et al. 2019) or ViT
(Dosovitskiy et al. 2021) use it).

An input (B, *input_shape) is read as L = prod(input_shape[:-1]) tokens of F = input_shape[-1]
features: an MNIST image (B, 1, 28, 28) is a sequence of its 28 rows, 28 pixels each.

    h_0 = [x_cls; x_1 W_e; ...; x_L W_e] + P      linear token embedding, [CLS] prepended, positions
    h_l = Block(h_{l-1}),  l = 1..N               pre-norm self-attention + MLP (blocks.py), no mask
    logits = W_c LN(h_N)[0]                       the [CLS] position ("cls"), or the mean over tokens ("mean")

Shapes: x (B, *input_shape) float -> logits (B, num_classes).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dlzoo.families.transformer.blocks import Block
from dlzoo.families.transformer.positional import LearnedPositions, SinusoidalPositions
from dlzoo.registry import choices_error

POOLING = ("cls", "mean")
POSITIONS = {"learned": LearnedPositions, "sinusoidal": SinusoidalPositions}


class EncoderClassifier(nn.Module):
    """Transformer encoder + [CLS]/mean pooling + linear head.

    Args:
        input_shape: one example, (tokens..., features per token), e.g. (28, 28); filled from the data when unset.
        num_classes: outputs of the head (class logits); filled from the data when unset.
        d_model: C, width of the token embeddings and of every encoder layer.
        n_heads: attention heads per layer; d_model / n_heads per head.
        n_layers: encoder blocks (pre-norm self-attention + MLP).
        d_ff: hidden width of each block's MLP (None: 4 * d_model).
        dropout: on embeddings, attention weights, residual branches.
        pool: "cls" (a learned [CLS] token prepended) or "mean" (average of the output tokens).
        positions: "learned" or "sinusoidal".
    """

    def __init__(
        self,
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
    ) -> None:
        super().__init__()
        if pool not in POOLING:
            raise ValueError(choices_error("pool", pool, POOLING))
        if positions not in POSITIONS:
            raise ValueError(choices_error("positions", positions, list(POSITIONS)))
        if len(input_shape) < 1:
            raise ValueError(f"input_shape must have at least one dim (features), got {input_shape}")
        self.input_shape, self.pool = tuple(input_shape), pool
        self.seq_len, self.features = math.prod(input_shape[:-1]), input_shape[-1]  # L tokens of F features
        self.embed = nn.Linear(self.features, d_model)  # W_e: F -> C
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model)) if pool == "cls" else None
        if self.cls is not None:
            nn.init.normal_(self.cls, std=0.02)
        self.pos = POSITIONS[positions](d_model=d_model, max_len=self.seq_len + (pool == "cls"))
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(d_model=d_model, n_heads=n_heads, d_ff=d_ff, dropout=dropout) for _ in range(n_layers)
        )
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)  # W_c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        h = self.embed(x.reshape(B, self.seq_len, self.features))  # (B, L, C)
        if self.cls is not None:
            h = torch.cat([self.cls.expand(B, -1, -1), h], dim=1)  # (B, 1 + L, C)
        h = self.drop(self.pos(h))
        for block in self.blocks:
            h = block(h)  # (B, L', C)
        h = self.ln_f(h)
        pooled = h[:, 0] if self.cls is not None else h.mean(1)  # (B, C)
        return self.head(pooled)  # (B, num_classes)
