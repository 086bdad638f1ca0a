"""Multi-head attention written out (Vaswani et al. 2017, sec. 3.2), with the SDPA kernel as fast path.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + M) V                                  (eq. 1)
    MultiHead(X, Z)    = Concat(head_1, ..., head_h) W^O,
    head_i             = Attention(X W_i^Q, Z W_i^K, Z W_i^V)                               (sec. 3.2.2)

X (B, T, C) are the queries; Z = X for self-attention, the encoder output (B, S, C) for
cross-attention. M is 0 where a query may look and -inf where it may not: the causal mask (key
position > query position) and the padding mask (key is padding). ``fast=True`` computes eq. 1 with
``torch.nn.functional.scaled_dot_product_attention`` (fused kernels); ``fast=False`` computes it
line by line. Both share the same weights and agree to float precision (tests/families/
test_transformer_attention.py), also with ``torch.nn.MultiheadAttention``: the projection weights are
laid out like its ``in_proj_weight`` (W^Q; W^K; W^V stacked, (3C, C)).

Incremental decoding: a ``KVCache`` keeps the keys and values of the positions already seen, so
generating token t costs one query against t cached keys instead of re-running the whole prefix.
A row whose keys are all masked (e.g. a query over a sequence that is all padding) has no defined
softmax; it comes out NaN in both paths. Pad on the right, and never pass an all-padding sequence.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dlzoo.families.transformer.positional import RotaryEmbedding


class KVCache:
    """Keys and values of one attention layer for the positions decoded so far, (B, nh, S, hs) each.

    Self-attention appends each step's k, v; cross-attention stores the context's k, v once and
    reuses them (they do not change while the decoder runs).
    """

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None  # (B, nh, S, hs)
        self.v: torch.Tensor | None = None  # (B, nh, S, hs)

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[2]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Concatenate this step's keys/values (B, nh, T, hs) after the cached ones; return all of them."""
        if self.k is None or self.v is None:
            self.k, self.v = k, v
        else:
            self.k = torch.cat([self.k, k], dim=2)  # (B, nh, S + T, hs)
            self.v = torch.cat([self.v, v], dim=2)
        return self.k, self.v

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows ``index`` (B',): beam search reorders hypotheses between steps."""
        if self.k is not None and self.v is not None:
            self.k, self.v = self.k.index_select(0, index), self.v.index_select(0, index)


def attention_mask(
    *, T: int, S: int, causal: bool, key_padding_mask: torch.Tensor | None, device: torch.device
) -> torch.Tensor | None:
    """Boolean mask, True = may attend, broadcastable to (B, nh, T, S); None when nothing is masked.

    The T queries are the *last* T of the S positions (a cache holds the first S - T), so query i may
    see keys j <= i + S - T.
    """
    mask = None
    if causal:
        mask = torch.ones(T, S, dtype=torch.bool, device=device).tril(diagonal=S - T)  # (T, S)
    if key_padding_mask is not None:
        keep = ~key_padding_mask[:, None, None, :]  # (B, 1, 1, S)
        mask = keep if mask is None else keep & mask  # (B, 1, T, S)
    return mask


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Eq. 1 written out: q (B, nh, T, hs), k and v (B, nh, S, hs), mask True = attend -> (B, nh, T, hs)."""
    # Q K^T / sqrt(d_k): (B, nh, T, hs) @ (B, nh, hs, S) -> (B, nh, T, S)
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # + M
    weights = torch.softmax(scores, dim=-1)  # (B, nh, T, S), each row sums to 1 over the keys
    if dropout > 0:
        weights = F.dropout(weights, p=dropout)
    return weights @ v  # (B, nh, T, S) @ (B, nh, S, hs) -> (B, nh, T, hs)


class MultiHeadAttention(nn.Module):
    """Multi-head self- or cross-attention. x (B, T, C) [, context (B, S, C)] -> (B, T, C).

    Args:
        d_model: C, the model width; split into ``n_heads`` heads of hs = C / n_heads.
        n_heads: number of heads h.
        dropout: on the attention weights and on the output (residual dropout, as GPT-2).
        bias: biases in the projections.
        rope: rotary embedding applied to the queries and keys of self-attention (None: none).
        fast: use ``F.scaled_dot_product_attention`` (True) or the written-out eq. 1 (False).
    """

    def __init__(
        self,
        *,
        d_model: int,
        n_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        rope: RotaryEmbedding | None = None,
        fast: bool = True,
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model, self.n_heads, self.dropout, self.fast = d_model, n_heads, dropout, fast
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)  # [W^Q; W^K; W^V] for all heads at once
        self.proj = nn.Linear(d_model, d_model, bias=bias)  # W^O
        self.resid_dropout = nn.Dropout(dropout)
        self.rope = rope

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        B, L, C = t.shape
        return t.view(B, L, self.n_heads, C // self.n_heads).transpose(1, 2)  # (B, nh, L, hs)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        *,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        pos_offset: int = 0,
    ) -> torch.Tensor:
        B, T, C = x.shape
        cross = context is not None
        if not cross:  # self-attention: one matmul gives Q, K and V
            q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
            q, k, v = self._heads(q), self._heads(k), self._heads(v)  # (B, nh, T, hs)
            if self.rope is not None:
                q, k = self.rope(q, pos_offset), self.rope(k, pos_offset)
            if cache is not None:
                k, v = cache.append(k, v)  # (B, nh, S, hs), S = cached + T
        else:
            w_q, w_kv = self.qkv.weight.split([C, 2 * C])
            b_q, b_kv = self.qkv.bias.split([C, 2 * C]) if self.qkv.bias is not None else (None, None)
            q = self._heads(F.linear(x, w_q, b_q))  # (B, nh, T, hs)
            if cache is not None and cache.k is not None and cache.v is not None:
                k, v = cache.k, cache.v  # the context's keys/values, computed at the first step
            else:
                k, v = F.linear(context, w_kv, b_kv).split(C, dim=2)  # (B, S, C) each
                k, v = self._heads(k), self._heads(v)  # (B, nh, S, hs)
                if cache is not None:
                    cache.append(k, v)
        S = k.shape[2]
        p = self.dropout if self.training else 0.0
        if self.fast and causal and key_padding_mask is None and S == T:  # the fused causal kernel
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            mask = attention_mask(
                T=T, S=S, causal=causal and T > 1, key_padding_mask=key_padding_mask, device=x.device
            )  # one new query may see every cached key
            if self.fast:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
            else:
                y = scaled_dot_product_attention(q, k, v, mask=mask, dropout=p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble the heads: (B, T, C)
        return self.resid_dropout(self.proj(y))  # (B, T, C)
