"""Attention from first principles: the written-out math against PyTorch's kernels and modules.

- MultiHeadAttention (fast=False, eq. 1 line by line) == fast=True (SDPA) == F.scaled_dot_product_attention
  == torch.nn.MultiheadAttention given the same weights, with causal, padding and cross-attention masks;
- the key/value cache: one position at a time (or in chunks) equals the full causal pass;
- positions: sinusoidal values from the formula, RoPE's relative-position property, learned-table limits;
- top-k / top-p filters on hand-computed distributions.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from dlzoo.families.transformer.attention import KVCache, MultiHeadAttention, attention_mask
from dlzoo.families.transformer.blocks import Block
from dlzoo.families.transformer.positional import LearnedPositions, RotaryEmbedding, SinusoidalPositions
from dlzoo.families.transformer.sampling import check_sampling, filter_logits, sample_next

B, T, S, C, H = 3, 7, 5, 32, 4


def _mha(**kw) -> MultiHeadAttention:
    torch.manual_seed(0)
    m = MultiHeadAttention(d_model=C, n_heads=H, **kw).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.3)  # not the zero biases of a fresh Linear: every term counts
    return m


def _padding(batch: int, length: int) -> torch.Tensor:
    pad = torch.zeros(batch, length, dtype=torch.bool)  # True = padding, on the right
    pad[1, -2:] = True
    pad[2, -1:] = True
    return pad


@pytest.mark.parametrize("causal,padded", [(False, False), (True, False), (False, True), (True, True)])
def test_written_out_attention_matches_sdpa(causal: bool, padded: bool) -> None:
    m = _mha()
    x = torch.randn(B, T, C)
    pad = _padding(B, T) if padded else None
    slow = m(x, causal=causal, key_padding_mask=pad)
    m.fast = True
    fast = m(x, causal=causal, key_padding_mask=pad)
    m.fast = False
    assert_close(slow, m(x, causal=causal, key_padding_mask=pad))  # deterministic
    assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    # and against F.scaled_dot_product_attention on the same projections, written here independently
    q, k, v = (F.linear(x, w, b) for w, b in zip(m.qkv.weight.chunk(3), m.qkv.bias.chunk(3), strict=True))

    def heads(t):
        return t.view(B, T, H, C // H).transpose(1, 2)

    mask = None
    if causal:
        mask = torch.ones(T, T, dtype=torch.bool).tril()
    if padded:
        keep = ~pad[:, None, None, :]
        mask = keep if mask is None else keep & mask
    y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), attn_mask=mask)
    assert_close(slow, m.proj(y.transpose(1, 2).reshape(B, T, C)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("causal,padded", [(False, False), (True, False), (False, True), (True, True)])
def test_self_attention_matches_torch_multihead_attention(fast: bool, causal: bool, padded: bool) -> None:
    m = _mha(fast=fast)
    ref = nn.MultiheadAttention(C, H, batch_first=True).eval()
    with torch.no_grad():  # the same weights: W^Q; W^K; W^V stacked as (3C, C), then W^O
        ref.in_proj_weight.copy_(m.qkv.weight)
        ref.in_proj_bias.copy_(m.qkv.bias)
        ref.out_proj.weight.copy_(m.proj.weight)
        ref.out_proj.bias.copy_(m.proj.bias)
    x = torch.randn(B, T, C)
    pad = _padding(B, T) if padded else None
    future = torch.ones(T, T, dtype=torch.bool).triu(1) if causal else None  # torch: True = masked
    want, _ = ref(x, x, x, key_padding_mask=pad, attn_mask=future, need_weights=False)
    assert_close(m(x, causal=causal, key_padding_mask=pad), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("fast", [True, False])
def test_cross_attention_matches_torch_multihead_attention(fast: bool) -> None:
    m = _mha(fast=fast)
    ref = nn.MultiheadAttention(C, H, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(m.qkv.weight)
        ref.in_proj_bias.copy_(m.qkv.bias)
        ref.out_proj.weight.copy_(m.proj.weight)
        ref.out_proj.bias.copy_(m.proj.bias)
    x, memory = torch.randn(B, T, C), torch.randn(B, S, C)
    pad = _padding(B, S)
    want, _ = ref(x, memory, memory, key_padding_mask=pad, need_weights=False)
    assert_close(m(x, memory, key_padding_mask=pad), want, atol=1e-5, rtol=1e-5)
    cache = KVCache()  # the context's keys/values are computed once, then reused
    first = m(x[:, :3], memory, key_padding_mask=pad, cache=cache)
    k_before = cache.k
    rest = m(x[:, 3:], memory, key_padding_mask=pad, cache=cache)
    assert cache.k is k_before and len(cache) == S
    assert_close(torch.cat([first, rest], 1), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("rope", [False, True])
def test_kv_cache_incremental_equals_full_causal_pass(fast: bool, rope: bool) -> None:
    m = _mha(fast=fast, rope=RotaryEmbedding(head_dim=C // H, max_len=32) if rope else None)
    x = torch.randn(B, T, C)
    full = m(x, causal=True)
    cache = KVCache()
    steps = [m(x[:, t : t + 1], causal=True, cache=cache, pos_offset=t) for t in range(T)]
    assert len(cache) == T
    assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)
    cache = KVCache()  # a prefill of 3, then a chunk of 4 (the mask must offset the diagonal)
    chunks = [m(x[:, :3], causal=True, cache=cache), m(x[:, 3:], causal=True, cache=cache, pos_offset=3)]
    assert_close(torch.cat(chunks, 1), full, atol=1e-5, rtol=1e-5)


def test_attention_mask_with_cached_prefix() -> None:
    mask = attention_mask(T=2, S=4, causal=True, key_padding_mask=None, device=torch.device("cpu"))
    # queries are positions 2 and 3 of 4: position 2 sees keys 0..2, position 3 sees all
    assert mask.tolist() == [[True, True, True, False], [True, True, True, True]]
    pad = torch.tensor([[False, False, False, True]])
    both = attention_mask(T=2, S=4, causal=True, key_padding_mask=pad, device=torch.device("cpu"))
    assert both.shape == (1, 1, 2, 4) and both[0, 0].tolist() == [[True, True, True, False], [True, True, True, False]]


def test_attention_weights_ignore_padded_keys() -> None:
    """Changing the values at padded positions must not change any output."""
    m = _mha(fast=False)
    x = torch.randn(B, T, C)
    pad = _padding(B, T)
    y = m(x, causal=False, key_padding_mask=pad)
    x2 = x.clone()
    x2[pad] = torch.randn(int(pad.sum()), C) * 10
    y2 = m(x2, causal=False, key_padding_mask=pad)
    assert_close(y[~pad], y2[~pad])


def test_sinusoidal_positions_follow_the_formula() -> None:
    pe = SinusoidalPositions(d_model=8, max_len=50)
    x = torch.zeros(1, 50, 8)
    out = pe(x)[0]
    for pos, i in [(0, 0), (3, 1), (17, 2), (49, 3)]:
        angle = pos / 10000 ** (2 * i / 8)
        assert math.isclose(out[pos, 2 * i].item(), math.sin(angle), abs_tol=1e-5)
        assert math.isclose(out[pos, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-5)
    assert_close(pe(torch.zeros(2, 3, 8), pos_offset=5), out[5:8].expand(2, 3, 8))
    assert not list(pe.parameters()) and not pe.state_dict()  # nothing to learn or save


def test_rope_depends_only_on_relative_position() -> None:
    rope = RotaryEmbedding(head_dim=16, max_len=64)
    q, k = torch.randn(1, 1, 1, 16), torch.randn(1, 1, 1, 16)

    def dot(m, n):
        return (rope(q, m) * rope(k, n)).sum().item()

    assert math.isclose(dot(3, 1), dot(40, 38), rel_tol=1e-4, abs_tol=1e-5)
    assert math.isclose(dot(10, 10), (q * k).sum().item(), rel_tol=1e-4, abs_tol=1e-5)  # m = n: no rotation left
    assert not math.isclose(dot(3, 1), dot(3, 2), rel_tol=1e-3)
    assert_close(rope(q, 7).norm(), q.norm())  # a rotation keeps the norm


def test_positions_refuse_sequences_past_max_len() -> None:
    pos = LearnedPositions(d_model=8, max_len=10)
    assert pos(torch.zeros(2, 10, 8)).shape == (2, 10, 8)
    with pytest.raises(ValueError, match="max_len is 10"):
        pos(torch.zeros(2, 4, 8), pos_offset=7)
    with pytest.raises(ValueError, match="head_dim must be even"):
        RotaryEmbedding(head_dim=7)


def test_block_shapes_cross_attention_and_dropout_modes() -> None:
    torch.manual_seed(0)
    blk = Block(d_model=C, n_heads=H, dropout=0.5, cross_attention=True)
    x, memory = torch.randn(B, T, C), torch.randn(B, S, C)
    blk.eval()
    y = blk(x, memory, causal=True, memory_padding_mask=_padding(B, S))
    assert y.shape == (B, T, C) and torch.isfinite(y).all()
    assert_close(y, blk(x, memory, causal=True, memory_padding_mask=_padding(B, S)))  # eval: no dropout
    blk.train()
    assert not torch.allclose(blk(x, memory, causal=True), blk(x, memory, causal=True))
    with pytest.raises(ValueError, match="pass memory"):
        blk(x)
    with pytest.raises(ValueError, match="valid: gelu, relu"):
        Block(d_model=C, n_heads=H, activation="swish")
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(d_model=30, n_heads=4)


def test_top_k_and_top_p_filters() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.2, 0.15, 0.1, 0.05]]))

    def kept(out):
        return torch.isfinite(out)[0].tolist()

    assert kept(filter_logits(logits, top_k=2)) == [True, True, False, False, False]
    assert kept(filter_logits(logits, top_p=0.5)) == [True, False, False, False, False]  # 0.5 reaches 0.5
    assert kept(filter_logits(logits, top_p=0.6)) == [True, True, False, False, False]
    assert kept(filter_logits(logits, top_p=0.86)) == [True, True, True, True, False]  # 0.85 < 0.86
    assert kept(filter_logits(logits, top_p=1.0)) == [True] * 5
    # renormalized probabilities after top-k: 0.5 / 0.7 and 0.2 / 0.7
    probs = torch.softmax(filter_logits(logits, top_k=2), -1)[0]
    assert_close(probs[:2], torch.tensor([0.5 / 0.7, 0.2 / 0.7]))
    assert sample_next(logits, temperature=0).item() == 0  # greedy
    g = torch.Generator().manual_seed(0)
    draws = torch.cat([sample_next(logits, temperature=1.0, top_k=2, generator=g) for _ in range(300)])
    assert set(draws.flatten().tolist()) == {0, 1}
    for bad in (
        dict(temperature=-1.0, top_k=None, top_p=None),
        dict(temperature=1.0, top_k=0, top_p=None),
        dict(temperature=1.0, top_k=None, top_p=0.0),
        dict(temperature=1.0, top_k=None, top_p=1.5),
    ):
        with pytest.raises(ValueError):
            check_sampling(**bad)
