"""The pre-norm Transformer block (GPT-2, Radford et al. 2019; Xiong et al. 2020):

    x = x + SelfAttention(LN(x))                 (causal in a decoder, with a padding mask if any)
    x = x + CrossAttention(LN(x), memory)        (decoder of an encoder-decoder model only)
    x = x + MLP(LN(x)),   MLP(h) = W_2 dropout? GELU(W_1 h + b_1) + b_2,   W_1: C -> 4C   (sec. 3.3)

Vaswani et al. (2017) normalize after the residual sum (post-norm); putting LayerNorm first keeps an
identity path from the input to the output, which trains without learning-rate warmup tricks.
"""

from __future__ import annotations

import torch
from torch import nn

from dlzoo.families.transformer.attention import KVCache, MultiHeadAttention
from dlzoo.families.transformer.positional import RotaryEmbedding
from dlzoo.registry import choices_error

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


class MLP(nn.Module):
    """Position-wise feed-forward network (Vaswani et al. 2017, eq. 2): (B, T, C) -> (B, T, C)."""

    def __init__(
        self, *, d_model: int, d_ff: int, dropout: float = 0.0, bias: bool = True, activation: str = "gelu"
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(choices_error("activation", activation, list(ACTIVATIONS)))
        self.fc = nn.Linear(d_model, d_ff, bias=bias)
        self.act = ACTIVATIONS[activation]()
        self.proj = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(self.act(self.fc(x))))  # (B, T, C)


class Block(nn.Module):
    """Pre-norm block: self-attention, optional cross-attention, MLP. x (B, T, C) -> (B, T, C).

    Args:
        d_model, n_heads: width and heads of every attention.
        d_ff: hidden width of the MLP (default 4 * d_model).
        dropout: attention-weight, residual and MLP dropout.
        bias: biases in the linear layers and LayerNorms.
        cross_attention: add a cross-attention sub-layer (an encoder-decoder's decoder block).
        rope: rotary embedding for the self-attention's queries and keys (shared by all blocks).
        fast: SDPA kernel (True) or the written-out attention (False).
        activation: "gelu" (GPT) or "relu" (Vaswani et al.).
    """

    def __init__(
        self,
        *,
        d_model: int,
        n_heads: int,
        d_ff: int | None = None,
        dropout: float = 0.0,
        bias: bool = True,
        cross_attention: bool = False,
        rope: RotaryEmbedding | None = None,
        fast: bool = True,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = MultiHeadAttention(
            d_model=d_model, n_heads=n_heads, dropout=dropout, bias=bias, rope=rope, fast=fast
        )
        self.ln_cross = nn.LayerNorm(d_model, bias=bias) if cross_attention else None
        self.cross = (
            MultiHeadAttention(d_model=d_model, n_heads=n_heads, dropout=dropout, bias=bias, fast=fast)
            if cross_attention
            else None
        )
        self.ln_2 = nn.LayerNorm(d_model, bias=bias)
        self.mlp = MLP(d_model=d_model, d_ff=d_ff or 4 * d_model, dropout=dropout, bias=bias, activation=activation)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        *,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
        memory_padding_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        cross_cache: KVCache | None = None,
        pos_offset: int = 0,
    ) -> torch.Tensor:
        """x (B, T, C); memory (B, S, C) the encoder output (cross-attention blocks only);
        key_padding_mask (B, T_total) / memory_padding_mask (B, S): True = padding."""
        x = x + self.attn(
            self.ln_1(x), causal=causal, key_padding_mask=key_padding_mask, cache=cache, pos_offset=pos_offset
        )  # (B, T, C)
        if self.cross is not None and self.ln_cross is not None:
            if memory is None:
                raise ValueError("this block has cross-attention: pass memory, the encoder output (B, S, C)")
            x = x + self.cross(self.ln_cross(x), memory, key_padding_mask=memory_padding_mask, cache=cross_cache)
        return x + self.mlp(self.ln_2(x))  # (B, T, C)
