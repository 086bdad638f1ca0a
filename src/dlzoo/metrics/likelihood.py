"""Likelihood metrics torchmetrics lacks: importance-sampled NLL and bits per dimension."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def log_mean_exp(x: torch.Tensor, dim: int) -> torch.Tensor:
    """log(mean(exp(x))) along ``dim``, stable: logsumexp(x) - log(K)."""
    return torch.logsumexp(x, dim=dim) - math.log(x.shape[dim])


@torch.no_grad()
def importance_sampled_nll(
    log_weights: Callable[[torch.Tensor, int], torch.Tensor], x: torch.Tensor, *, k: int, chunk: int = 100
) -> torch.Tensor:
    """-log p(x) ~= -log (1/K) sum_k p(x, z_k) / q(z_k | x),  z_k ~ q(z | x)   (Burda et al. 2016, eq. 8).

    ``log_weights(x, n)`` returns log p(x, z) - log q(z|x) for ``n`` samples per example, shape (n, B).
    Samples are drawn ``chunk`` at a time so K = 5000 fits in memory. Returns (B,) nats.
    """
    parts = []
    for start in range(0, k, chunk):
        parts.append(log_weights(x, min(chunk, k - start)))  # (n, B)
    return -log_mean_exp(torch.cat(parts, dim=0), dim=0)  # (B,)


def bits_per_dim(nll_nats: torch.Tensor | float, num_dims: int) -> float:
    """Nats per example -> bits per dimension: nll / (D ln 2)."""
    return float(nll_nats) / (num_dims * math.log(2.0))
