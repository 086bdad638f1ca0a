"""Choosing the next token from a model's logits: greedy, temperature, top-k and nucleus (top-p).

    p_i = softmax(z / tau)_i                                   temperature tau (tau -> 0: greedy)
    top-k: keep the k largest z_i (Fan et al. 2018)
    top-p: keep the smallest set V_p with sum_{i in V_p} p_i >= p (Holtzman et al. 2020, eq. 2)

Filtered-out tokens get logit -inf, so the softmax renormalizes over the kept ones.
"""

from __future__ import annotations

import torch


def check_sampling(*, temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise ValueError naming the bad parameter and the valid range."""
    if not temperature >= 0:  # also catches NaN
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None (no top-k filter), got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] or None (no nucleus filter), got {top_p}")


def filter_logits(logits: torch.Tensor, *, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Set every logit outside the top-k / top-p set to -inf: (B, V) -> (B, V)."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1) the k-th largest logit
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B, V)
        probs = torch.softmax(sorted_logits, dim=-1)
        # drop token i when the tokens ranked above it already reach p: cumsum - p_i >= top_p
        drop_sorted = (torch.cumsum(probs, dim=-1) - probs) >= top_p  # the top token is never dropped
        drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Next token ids (B, 1) from the last position's logits (B, V)."""
    if temperature == 0:  # greedy decoding
        return logits.argmax(dim=-1, keepdim=True)  # (B, 1)
    logits = filter_logits(logits / temperature, top_k=top_k, top_p=top_p)
    probs = torch.softmax(logits, dim=-1)  # (B, V)
    return torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
