"""Monotonic rational-quadratic splines (Durkan et al. 2019, "Neural Spline Flows", Sec. 3.1).

K bins on [-B, B] with widths w_k, heights h_k (softmax, scaled to 2B) and K - 1 interior
derivatives d_k (softplus; the end derivatives are 1 so the identity tails outside [-B, B] join
smoothly). On bin k with xi = (x - x_k) / w_k and s_k = h_k / w_k (eq. 4 and App. A):

    g(x) = y_k + h_k [s_k xi^2 + d_k xi (1 - xi)] / [s_k + (d_{k+1} + d_k - 2 s_k) xi (1 - xi)]
    g'(x) = s_k^2 [d_{k+1} xi^2 + 2 s_k xi (1 - xi) + d_k (1 - xi)^2] / [s_k + (d_{k+1} + d_k - 2 s_k) xi (1 - xi)]^2

and the inverse solves the quadratic a xi^2 + b xi + c = 0 (eq. 6-8 of App. A) with the stable root
xi = 2c / (-b - sqrt(b^2 - 4ac)). The bin is found by counting knots below x (a sum of comparisons,
which ONNX exports, where ``searchsorted`` does not).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MIN_BIN = 1e-3  # minimal bin width / height, as a fraction of 2B
MIN_DERIVATIVE = 1e-3
ONE = math.log(math.e - 1)  # softplus(0 + ONE) = 1: a zero-initialised conditioner gives slope-1 knots


def _knots(raw: torch.Tensor, bound: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw logits (..., K) -> bin sizes (..., K) and knot positions (..., K + 1) spanning [-B, B]."""
    k = raw.shape[-1]
    size = MIN_BIN + (1 - MIN_BIN * k) * torch.softmax(raw, dim=-1)  # (..., K), sums to 1
    cum = F.pad(torch.cumsum(size, dim=-1), (1, 0))  # (..., K + 1), 0..1
    knots = 2 * bound * cum - bound  # (..., K + 1); the last one set to exactly B below
    knots = torch.cat([knots[..., :-1], torch.full_like(knots[..., -1:], bound)], dim=-1)
    return knots[..., 1:] - knots[..., :-1], knots


def rational_quadratic_spline(
    x: torch.Tensor,
    raw_widths: torch.Tensor,
    raw_heights: torch.Tensor,
    raw_derivatives: torch.Tensor,
    *,
    bound: float,
    inverse: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Elementwise monotone spline y = g(x) (or x = g^{-1}(y) with ``inverse``) and log|g'| at each element.

    Shapes: x (...,); raw_widths, raw_heights (..., K); raw_derivatives (..., K - 1). Identity outside [-B, B].
    """
    inside = (x >= -bound) & (x <= bound)
    xc = x.clamp(-bound, bound)
    sizes, knots = _knots(torch.stack([raw_widths, raw_heights]), bound)  # (2, ..., K), (2, ..., K + 1): both at once
    ones = torch.ones_like(raw_derivatives[..., :1])
    derivs = torch.cat([ones, MIN_DERIVATIVE + F.softplus(raw_derivatives + ONE), ones], dim=-1)  # (..., K + 1)

    k = (xc.unsqueeze(-1) >= knots[1 if inverse else 0, ..., 1:-1]).sum(-1)  # (...,) bin index in 0..K-1
    # one gather for the six per-bin quantities: x_k, y_k, w_k, h_k, d_k, d_{k+1}
    table = torch.stack([knots[0, ..., :-1], knots[1, ..., :-1], sizes[0], sizes[1], derivs[..., :-1], derivs[..., 1:]])
    x_k, y_k, w_k, h_k, d_k, d_k1 = torch.gather(table, -1, k.expand(6, *k.shape).unsqueeze(-1)).squeeze(-1)
    s_k = h_k / w_k
    if inverse:
        a = h_k * (s_k - d_k) + (xc - y_k) * (d_k1 + d_k - 2 * s_k)
        b = h_k * d_k - (xc - y_k) * (d_k1 + d_k - 2 * s_k)
        c = -s_k * (xc - y_k)
        disc = (b.pow(2) - 4 * a * c).clamp_min(0)
        xi = (2 * c) / (-b - torch.sqrt(disc))
        out = xi * w_k + x_k
    xi = (xi if inverse else (xc - x_k) / w_k).clamp(0, 1)  # in [0, 1] but for rounding
    omx = xi * (1 - xi)
    denom = s_k + (d_k1 + d_k - 2 * s_k) * omx
    if not inverse:
        out = y_k + h_k * (s_k * xi.pow(2) + d_k * omx) / denom  # eq. 4, sharing the denominator with g'
    deriv = s_k.pow(2) * (d_k1 * xi.pow(2) + 2 * s_k * omx + d_k * (1 - xi).pow(2)) / denom.pow(2)
    logabsdet = torch.log(deriv) * (-1 if inverse else 1)
    return torch.where(inside, out, x), torch.where(inside, logabsdet, torch.zeros_like(logabsdet))
