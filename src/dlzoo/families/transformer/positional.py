"""Positional information for attention, which is otherwise permutation-equivariant.

- ``SinusoidalPositions`` (Vaswani et al. 2017, sec. 3.5): fixed PE added to the token embeddings,
      PE(pos, 2i)   = sin(pos / 10000^(2i / d_model))
      PE(pos, 2i+1) = cos(pos / 10000^(2i / d_model))
- ``LearnedPositions`` (GPT-2, Radford et al. 2019): a trained table wpe[pos] added to the embeddings.
- ``RotaryEmbedding`` (RoPE, Su et al. 2021, eq. 34): rotate each (query, key) pair of features by an
  angle proportional to the position, so that <R_m q, R_n k> depends only on m - n. It acts on the
  per-head queries and keys inside attention, not on the embeddings.

Shapes: the additive encodings take x (B, T, C) and return x + P[offset : offset + T] (B, T, C).
``pos_offset`` is the position of x[:, 0]: non-zero when decoding one token at a time with a cache.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _check_length(end: int, max_len: int, what: str) -> None:
    if end > max_len:
        raise ValueError(
            f"{what}: positions up to {end} requested, but max_len is {max_len} "
            f"(the model's context length); crop the sequence to at most {max_len} tokens"
        )


class SinusoidalPositions(nn.Module):
    """Fixed sinusoidal encodings (Vaswani et al. 2017, sec. 3.5), added to x. No parameters."""

    def __init__(self, *, d_model: int, max_len: int = 4096) -> None:
        super().__init__()
        self.max_len = max_len
        pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)  # (L, 1)
        # 1 / 10000^(2i / d_model), i = 0 .. d_model/2 - 1
        inv_freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)  # (L, C)
        pe[:, 0::2] = torch.sin(pos * inv_freq)  # PE(pos, 2i)
        pe[:, 1::2] = torch.cos(pos * inv_freq[: d_model // 2])  # PE(pos, 2i+1)
        self.register_buffer("pe", pe, persistent=False)  # a function of the shape: not saved with the weights

    def forward(self, x: torch.Tensor, pos_offset: int = 0) -> torch.Tensor:
        T = x.shape[1]
        _check_length(pos_offset + T, self.max_len, "SinusoidalPositions")
        return x + self.pe[pos_offset : pos_offset + T]  # (B, T, C)


class LearnedPositions(nn.Module):
    """A learned absolute position table (GPT-2's ``wpe``), added to x."""

    def __init__(self, *, d_model: int, max_len: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.weight = nn.Parameter(torch.zeros(max_len, d_model))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor, pos_offset: int = 0) -> torch.Tensor:
        T = x.shape[1]
        _check_length(pos_offset + T, self.max_len, "LearnedPositions")
        return x + self.weight[pos_offset : pos_offset + T]  # (B, T, C)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (Su et al. 2021) applied to per-head queries or keys (B, nh, T, hs).

    Feature pairs are (x_j, x_{j + hs/2}) ("rotate half", as GPT-NeoX and LLaMA): a fixed permutation
    of the paper's adjacent pairs (x_{2i}, x_{2i+1}), so the same relative-position property holds:

        f(x, m) = x * cos(m theta) + rotate_half(x) * sin(m theta),  theta_i = base^(-2i / hs)   (eq. 34)
    """

    def __init__(self, *, head_dim: int, max_len: int = 4096, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"RotaryEmbedding: head_dim must be even, got {head_dim}")
        self.max_len = max_len
        theta = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)  # (hs/2,)
        angles = torch.outer(torch.arange(max_len, dtype=torch.float32), theta)  # (L, hs/2): m theta_i
        angles = torch.cat([angles, angles], dim=-1)  # (L, hs)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, pos_offset: int = 0) -> torch.Tensor:
        T = x.shape[-2]
        _check_length(pos_offset + T, self.max_len, "RotaryEmbedding")
        cos = self.cos[pos_offset : pos_offset + T]  # (T, hs)
        sin = self.sin[pos_offset : pos_offset + T]  # (T, hs)
        x1, x2 = x.chunk(2, dim=-1)  # (B, nh, T, hs/2) each
        rotated = torch.cat([-x2, x1], dim=-1)  # rotate_half(x): (B, nh, T, hs)
        return x * cos + rotated * sin  # (B, nh, T, hs)


POSITIONS = ("learned", "sinusoidal", "rope", "none")
