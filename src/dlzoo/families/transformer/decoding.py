"""Decoding an encoder-decoder model: greedy and beam search, with or without the key/value cache.

The model must provide ``encode(src) -> (memory, src_pad)``, ``decode(tgt, memory, src_pad, cache=)
-> logits`` and ``new_cache()`` (``seq2seq.Seq2SeqTransformer``). With ``use_cache=True`` each step
feeds only the newest token and the decoder reuses the keys/values of the earlier positions; with
``use_cache=False`` each step re-runs the whole prefix. Both give the same tokens (a test checks it).

Beam search (e.g. Graves 2012; Sutskever et al. 2014, sec. 3.2) keeps the K best prefixes by
log-probability; a hypothesis that emitted <eos> is finished and keeps its score. The best finished
hypothesis is chosen by length-normalized score (Wu et al. 2016, GNMT, sec. 7, eq. 14):

    s(Y) = log P(Y | X) / lp(Y),    lp(Y) = (5 + |Y|)^alpha / (5 + 1)^alpha

Outputs: tokens (B, L) int64 without <bos>, padded with ``pad_id`` after <eos> (L <= max_new_tokens),
and scores (B,): log P(Y | X) (greedy) or the normalized s(Y) (beam).
"""

from __future__ import annotations

import torch
from torch import nn


def length_penalty(length: torch.Tensor, alpha: float) -> torch.Tensor:
    """lp(Y) = ((5 + |Y|) / 6)^alpha (Wu et al. 2016, eq. 14); alpha = 0 turns normalization off."""
    return ((5.0 + length.float()) / 6.0) ** alpha


def _step(model: nn.Module, seq: torch.Tensor, memory: torch.Tensor, src_pad: torch.Tensor, cache) -> torch.Tensor:
    """Log-probabilities of the next token after ``seq`` (N, t) -> (N, V)."""
    if cache is None:
        logits = model.decode(seq, memory, src_pad)  # the whole prefix again: (N, t, V)
    else:
        logits = model.decode(seq[:, -1:], memory, src_pad, cache=cache)  # the newest token only: (N, 1, V)
    return logits[:, -1].float().log_softmax(-1)  # (N, V)


@torch.no_grad()
def greedy_decode(
    model: nn.Module,
    src: torch.Tensor,
    *,
    max_new_tokens: int,
    bos_id: int,
    eos_id: int,
    pad_id: int,
    use_cache: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """y_t = argmax_y P(y | y_<t, X) until <eos> or ``max_new_tokens``. src (B, S) -> (B, L), (B,)."""
    B = src.shape[0]
    memory, src_pad = model.encode(src)  # (B, S, C), (B, S)
    cache = model.new_cache() if use_cache else None
    seq = torch.full((B, 1), bos_id, dtype=torch.long, device=src.device)  # (B, 1): <bos>
    score = torch.zeros(B, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    for _ in range(max_new_tokens):
        logp = _step(model, seq, memory, src_pad, cache)  # (B, V)
        best, token = logp.max(-1)  # (B,), (B,)
        token = token.masked_fill(done, pad_id)  # finished rows only pad
        score = score + best.masked_fill(done, 0.0)
        seq = torch.cat([seq, token[:, None]], dim=1)  # (B, t + 1)
        done = done | (token == eos_id)
        if bool(done.all()):
            break
    return seq[:, 1:], score


@torch.no_grad()
def beam_search(
    model: nn.Module,
    src: torch.Tensor,
    *,
    max_new_tokens: int,
    bos_id: int,
    eos_id: int,
    pad_id: int,
    beam_size: int = 4,
    alpha: float = 0.6,
    use_cache: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The K most probable prefixes per source, the best by s(Y) at the end. src (B, S) -> (B, L), (B,)."""
    B, K = src.shape[0], beam_size
    if K < 1:
        raise ValueError(f"beam_size must be >= 1, got {K}")
    memory, src_pad = model.encode(src)  # (B, S, C), (B, S)
    memory, src_pad = memory.repeat_interleave(K, 0), src_pad.repeat_interleave(K, 0)  # (B*K, S, C), (B*K, S)
    cache = model.new_cache() if use_cache else None
    device = src.device
    seq = torch.full((B * K, 1), bos_id, dtype=torch.long, device=device)  # (B*K, 1)
    # log P of each hypothesis; all K start as the same <bos>, so only the first may expand at step 1
    score = torch.full((B, K), float("-inf"), device=device)
    score[:, 0] = 0.0
    done = torch.zeros(B * K, dtype=torch.bool, device=device)
    length = torch.zeros(B * K, dtype=torch.long, device=device)  # tokens up to and including <eos>
    for _ in range(max_new_tokens):
        logp = _step(model, seq, memory, src_pad, cache)  # (B*K, V)
        V = logp.shape[-1]
        # a finished hypothesis continues only with <pad>, at no cost: it keeps its score and its place
        logp[done] = float("-inf")
        logp[done, pad_id] = 0.0
        cand = (score.view(B * K, 1) + logp).view(B, K * V)  # (B, K*V): log P(prefix) + log P(y | prefix)
        score, flat = cand.topk(K, dim=-1)  # (B, K)
        beam, token = flat // V, flat % V  # which hypothesis each survivor extends, with which token
        rows = (beam + torch.arange(B, device=device)[:, None] * K).view(-1)  # (B*K,) rows of the old beams
        token = token.view(-1)  # (B*K,)
        seq = torch.cat([seq[rows], token[:, None]], dim=1)  # (B*K, t + 1)
        done, length = done[rows], length[rows]
        length = length + (~done).long()
        done = done | (token == eos_id)
        if cache is not None:
            cache.reorder(rows)
        if bool(done.all()):
            break
    # s(Y) = log P(Y | X) / lp(Y): the best finished (or, failing that, longest-surviving) hypothesis
    normalized = score / length_penalty(length.view(B, K), alpha)  # (B, K)
    best = normalized.argmax(-1)  # (B,)
    rows = best + torch.arange(B, device=device) * K
    return seq[rows, 1:], normalized[torch.arange(B, device=device), best]


def generate(
    model: nn.Module,
    src: torch.Tensor,
    *,
    max_new_tokens: int,
    bos_id: int,
    eos_id: int,
    pad_id: int,
    beam_size: int = 1,
    alpha: float = 0.6,
    use_cache: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy decoding when ``beam_size == 1``, else beam search. src (B, S) -> tokens (B, L), scores (B,)."""
    ids = {
        "max_new_tokens": max_new_tokens,
        "bos_id": bos_id,
        "eos_id": eos_id,
        "pad_id": pad_id,
        "use_cache": use_cache,
    }
    if beam_size == 1:
        return greedy_decode(model, src, **ids)
    return beam_search(model, src, beam_size=beam_size, alpha=alpha, **ids)
