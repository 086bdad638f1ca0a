"""The encoder-decoder Transformer (Vaswani et al. 2017, "Attention Is All You Need", fig. 1), pre-norm.

    memory = Encoder(E[src] * sqrt(C) + PE)               N blocks: self-attention (padding masked) + MLP
    h      = Decoder(E[tgt_in] * sqrt(C) + PE, memory)    N blocks: causal self-attention, cross-attention
                                                          over memory (padding masked), MLP
    logits = LN(h) E^T                                    (sec. 3.4: the embedding matrix is shared by the
                                                          encoder, the decoder and the pre-softmax linear layer)

The decoder is trained with teacher forcing: ``forward(src, tgt_in)`` scores every next token at once
(``tgt_in`` = <bos> y_1 ... y_{T-1}, targets y_1 ... y_T <eos>). Generation runs ``encode`` once and
``decode`` one token at a time with a ``DecoderCache`` (``decoding.py``): each decoder layer keeps its
self-attention keys/values of the positions decoded so far, and the cross-attention keys/values of
the memory, computed at the first step.

Shapes:
    src (B, S) int64, right-padded with ``pad_id``; tgt_in (B, T) int64 -> logits (B, T, V)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dlzoo.families.transformer.attention import KVCache
from dlzoo.families.transformer.blocks import Block
from dlzoo.families.transformer.positional import LearnedPositions, SinusoidalPositions
from dlzoo.registry import choices_error

POSITIONS = {"sinusoidal": SinusoidalPositions, "learned": LearnedPositions}


class DecoderCache:
    """Per decoder layer: the self-attention KVCache (grows one position per step) and the
    cross-attention KVCache (the memory's keys/values, fixed)."""

    def __init__(self, n_layers: int) -> None:
        self.self_attn = [KVCache() for _ in range(n_layers)]
        self.cross_attn = [KVCache() for _ in range(n_layers)]

    def __len__(self) -> int:
        """Target positions decoded so far."""
        return len(self.self_attn[0])

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows ``index`` (beam search keeps the hypotheses that survived a step)."""
        for cache in (*self.self_attn, *self.cross_attn):
            cache.reorder(index)


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer with pre-norm blocks and tied embeddings.

    Args:
        vocab_size: V, tokens including <pad> <bos> <eos>; filled from the data when unset.
        max_len: longest source or target (with <bos>/<eos>) the positions cover; filled from the data when unset.
        d_model: C, the width of every layer (d_model in the paper).
        n_heads: attention heads h; d_model / h per head.
        n_encoder_layers: N of the encoder stack (6 in the paper).
        n_decoder_layers: N of the decoder stack (6 in the paper).
        d_ff: hidden width of the position-wise MLP (None: 4 * d_model, as the paper's 2048 for 512).
        dropout: P_drop, on attention weights, residual branches and embeddings (paper: 0.1).
        positions: "sinusoidal" (sec. 3.5) or "learned" (one table per stack).
        pad_id: the padding token; source padding is masked out of every attention; filled from the data when unset.
        activation: "relu" (paper) or "gelu".
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        max_len: int,
        d_model: int = 128,
        n_heads: int = 4,
        n_encoder_layers: int = 2,
        n_decoder_layers: int = 2,
        d_ff: int | None = None,
        dropout: float = 0.1,
        positions: str = "sinusoidal",
        pad_id: int = 0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if positions not in POSITIONS:
            raise ValueError(choices_error("positions", positions, list(POSITIONS)))
        self.vocab_size, self.max_len, self.d_model, self.pad_id = vocab_size, max_len, d_model, pad_id
        self.embed = nn.Embedding(vocab_size, d_model)  # E, shared three ways (sec. 3.4)
        nn.init.normal_(self.embed.weight, std=d_model**-0.5)  # E[x] * sqrt(C) then has unit scale
        self.enc_pos = POSITIONS[positions](d_model=d_model, max_len=max_len)
        self.dec_pos = POSITIONS[positions](d_model=d_model, max_len=max_len)
        self.drop = nn.Dropout(dropout)
        block = {"d_model": d_model, "n_heads": n_heads, "d_ff": d_ff, "dropout": dropout, "activation": activation}
        self.encoder = nn.ModuleList([Block(**block) for _ in range(n_encoder_layers)])
        self.decoder = nn.ModuleList([Block(**block, cross_attention=True) for _ in range(n_decoder_layers)])
        self.ln_enc = nn.LayerNorm(d_model)  # pre-norm stacks end with a LayerNorm
        self.ln_dec = nn.LayerNorm(d_model)

    def _embed(self, tokens: torch.Tensor, pos: nn.Module, pos_offset: int = 0) -> torch.Tensor:
        # sec. 3.4: "we multiply those weights by sqrt(d_model)"; sec. 3.5: add the positional encodings
        return self.drop(pos(self.embed(tokens) * math.sqrt(self.d_model), pos_offset))  # (B, L, C)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (B, S) -> memory (B, S, C) and its padding mask (B, S), True = padding."""
        src_pad = src == self.pad_id  # (B, S)
        x = self._embed(src, self.enc_pos)  # (B, S, C)
        for block in self.encoder:
            x = block(x, key_padding_mask=src_pad)  # (B, S, C)
        return self.ln_enc(x), src_pad

    def decode(
        self, tgt_in: torch.Tensor, memory: torch.Tensor, src_pad: torch.Tensor, *, cache: DecoderCache | None = None
    ) -> torch.Tensor:
        """tgt_in (B, T) after ``len(cache)`` cached positions -> next-token logits (B, T, V)."""
        offset = 0 if cache is None else len(cache)
        y = self._embed(tgt_in, self.dec_pos, offset)  # (B, T, C)
        for i, block in enumerate(self.decoder):
            y = block(
                y,
                memory,
                causal=True,
                memory_padding_mask=src_pad,
                pos_offset=offset,
                cache=None if cache is None else cache.self_attn[i],
                cross_cache=None if cache is None else cache.cross_attn[i],
            )  # (B, T, C)
        return self.ln_dec(y) @ self.embed.weight.t()  # (B, T, C) @ (C, V) -> (B, T, V), tied output layer

    def new_cache(self) -> DecoderCache:
        return DecoderCache(len(self.decoder))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: src (B, S), tgt_in (B, T) -> logits (B, T, V) for tgt_in shifted left."""
        memory, src_pad = self.encode(src)  # (B, S, C), (B, S)
        return self.decode(tgt_in, memory, src_pad)  # (B, T, V)
