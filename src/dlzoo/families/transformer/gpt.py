"""GPT: a decoder-only Transformer language model (Radford et al. 2018, 2019), nanoGPT-style.

    h_0 = W_e[idx] + P                     token embedding + positions (learned, sinusoidal or RoPE)
    h_l = Block(h_{l-1}),  l = 1..L        pre-norm causal self-attention + MLP (blocks.py)
    p(x_{t+1} | x_{<=t}) = softmax(LN(h_L) W_e^T)    the output head shares the embedding (weight tying,
                                                      Press & Wolf 2017)

Shapes: idx (B, T) int64 token ids, T <= block_size -> logits (B, T, vocab_size).
``generate`` samples continuations with a key/value cache (attention.KVCache).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dlzoo.families.transformer.attention import KVCache
from dlzoo.families.transformer.blocks import Block
from dlzoo.families.transformer.positional import POSITIONS, LearnedPositions, RotaryEmbedding, SinusoidalPositions
from dlzoo.families.transformer.sampling import check_sampling, sample_next
from dlzoo.registry import choices_error


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int  # number of token ids (65 characters for Tiny Shakespeare)
    block_size: int  # context length: the most tokens the model attends over
    n_layer: int = 4  # Transformer blocks
    n_head: int = 4  # attention heads per block
    n_embd: int = 128  # model width C; head size is n_embd / n_head
    dropout: float = 0.0  # on embeddings, attention weights, residual branches
    bias: bool = False  # biases in Linear and LayerNorm (nanoGPT: False is a little better and faster)
    positions: str = "learned"  # one of POSITIONS
    tie_weights: bool = True  # output head = token embedding matrix (transposed)
    fast: bool = True  # SDPA kernel (True) or the written-out attention (False)


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if config.positions not in POSITIONS:
            raise ValueError(choices_error("positions", config.positions, POSITIONS))
        self.config = c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.n_embd)  # W_e
        self.pos_emb: nn.Module | None = None
        if c.positions == "learned":
            self.pos_emb = LearnedPositions(d_model=c.n_embd, max_len=c.block_size)
        elif c.positions == "sinusoidal":
            self.pos_emb = SinusoidalPositions(d_model=c.n_embd, max_len=c.block_size)
        rope = RotaryEmbedding(head_dim=c.n_embd // c.n_head, max_len=c.block_size) if c.positions == "rope" else None
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            Block(d_model=c.n_embd, n_heads=c.n_head, dropout=c.dropout, bias=c.bias, rope=rope, fast=c.fast)
            for _ in range(c.n_layer)
        )
        self.ln_f = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = None if c.tie_weights else nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by 1/sqrt(2 L)
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    @property
    def block_size(self) -> int:
        return self.config.block_size

    def num_params(self, *, non_embedding: bool = True) -> int:
        """Parameter count; without the position table by default (as nanoGPT reports it)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and isinstance(self.pos_emb, LearnedPositions):
            n -= self.pos_emb.weight.numel()
        return n

    def forward(self, idx: torch.Tensor, *, caches: list[KVCache] | None = None, pos_offset: int = 0) -> torch.Tensor:
        """idx (B, T) -> logits (B, T, V). With ``caches`` (one per block), idx continues a cached prefix."""
        x = self.tok_emb(idx)  # (B, T, C)
        if self.pos_emb is not None:
            x = self.pos_emb(x, pos_offset)  # + P[pos_offset : pos_offset + T]
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, causal=True, cache=caches[i] if caches is not None else None, pos_offset=pos_offset)
        x = self.ln_f(x)  # (B, T, C)
        if self.lm_head is not None:
            return self.lm_head(x)  # (B, T, V)
        return F.linear(x, self.tok_emb.weight)  # (B, T, C) @ (C, V): logits with the tied embedding

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Append ``max_new_tokens`` sampled tokens to idx (B, T): -> (B, T + max_new_tokens).

        As nanoGPT, the model sees at most the last ``block_size`` tokens. With ``use_cache`` each new
        token costs one position's forward while the sequence fits in the context; past it, the
        window slides and is recomputed each step (positions shift), exactly as without the cache, so
        both modes give the same tokens. ``temperature=0`` is greedy decoding.
        """
        new = list(
            self.iter_generate(
                idx,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
                generator=generator,
                use_cache=use_cache,
            )
        )
        return torch.cat([idx, *new], dim=1)

    @torch.no_grad()
    def iter_generate(
        self,
        idx: torch.Tensor,
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> Iterator[torch.Tensor]:
        """``generate`` one step at a time: yields each new token (B, 1) as soon as it is sampled."""
        check_sampling(temperature=temperature, top_k=top_k, top_p=top_p)
        if idx.ndim != 2 or idx.shape[1] == 0:
            raise ValueError(f"idx must be (B, T) token ids with T >= 1, got shape {tuple(idx.shape)}")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        caches: list[KVCache] | None = None
        for _ in range(max_new_tokens):
            fits = idx.shape[1] <= self.block_size
            if use_cache and fits and caches is not None:  # one new position against the cache
                logits = self(idx[:, -1:], caches=caches, pos_offset=idx.shape[1] - 1)  # (B, 1, V)
            elif use_cache and fits:  # prefill: the whole prompt, filling the caches
                caches = [KVCache() for _ in self.blocks]
                logits = self(idx, caches=caches)  # (B, T, V)
            else:  # no cache, or the window slides: recompute over the last block_size tokens
                logits = self(idx[:, -self.block_size :])  # (B, <=block_size, V)
            next_id = sample_next(
                logits[:, -1, :], temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
            )  # (B, 1)
            idx = torch.cat([idx, next_id], dim=1)
            yield next_id
