"""The log partition function of an RBM: exact by enumeration, or annealed importance sampling (AIS).

Exact (any visible type, H <= ~25): summing the hidden states out analytically is impossible, but the
visible ones can be, so

    Bernoulli: log Z = logsumexp_h [ c^T h + sum_i softplus(b_i + (W^T h)_i) ]
    Gaussian:  log Z = logsumexp_h [ c^T h + (||b + W^T h||^2 - ||b||^2) / 2 ] + D/2 log(2 pi)

over all 2^H hidden configurations, in chunks (``log_z_exact``).

AIS (Neal 2001; Salakhutdinov & Murray 2008, Sec. 3-4), Bernoulli visible units: from a base-rate
model A (no hidden units, visible biases b_A fitted to the data's pixel means, Z_A closed form) to the
RBM B through K intermediate distributions, 0 = beta_0 < beta_1 < ... < beta_K = 1, with

    log p*_k(v) = (1 - beta_k) b_A^T v + beta_k b^T v + sum_j softplus(beta_k (c_j + W_j v))
    log Z_0     = sum_i softplus(b_A_i) + H log 2

Each of M chains starts at v ~ p_A, accumulates log w += log p*_k(v) - log p*_{k-1}(v) and then moves
with one Gibbs sweep T_k that leaves p_k invariant (h ~ sigmoid(beta_k (W v + c)),
v ~ sigmoid((1 - beta_k) b_A + beta_k (b + W^T h))). Then Z_B / Z_0 ~= mean_m w_m (unbiased), so
log Z_B ~= log Z_0 + logmeanexp(log w) (biased low by Jensen: a stochastic lower bound on log Z in
expectation, i.e. the log-likelihood is, if anything, overestimated).

The default temperature schedule has Salakhutdinov & Murray's shape (500 betas in [0, 0.5), 4000 in
[0.5, 0.9), 10000 in [0.9, 1]) scaled to K. ``ais_cost_gflop`` is what ``log_z_ais`` refuses past
``budget_gflop``, instead of running for hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlzoo.families.energy.rbm import RBM, bernoulli


LOG_2PI = math.log(2 * math.pi)
EXACT_CHUNK_ELEMENTS = 2**23  # hidden configurations x visible units evaluated at once (memory bound)


class AISBudgetError(ValueError):
    """An AIS (or exact) log Z whose cost is over the stated budget; the message says what to change."""


def exact_cost_gflop(n_visible: int, n_hidden: int) -> float:
    """Floating-point work of ``log_z_exact``: 2^H configurations x (W^T h and the softplus)."""
    return 2.0**n_hidden * n_visible * (2 * n_hidden + 4) / 1e9


def log_z_exact(rbm: RBM, *, max_hidden: int = 25, dtype: torch.dtype | None = None) -> torch.Tensor:
    """log Z by enumerating the 2^H hidden states (the visible ones summed out in closed form): ().

    ``dtype``: of the per-configuration terms (float64 by default for H <= 16, float32 above: about
    5x faster, and each term's rounding error is ~1e-7 relative); the chunks are combined in float64.
    """
    dtype = dtype or (torch.float64 if rbm.n_hidden <= 16 else torch.float32)
    H, D = rbm.n_hidden, rbm.n_visible
    if max_hidden < H:
        raise AISBudgetError(
            f"exact log Z enumerates 2^{H} hidden states ({exact_cost_gflop(D, H):.3g} GFLOP); "
            f"the limit is {max_hidden} hidden units: use AIS (task.ais_chains > 0) for this model"
        )
    W, b, c = (t.detach().to(dtype) for t in (rbm.W, rbm.b, rbm.c))  # (H, D), (D,), (H,)
    # h = (h_low, h_high): W^T h = W_low^T h_low + W_high^T h_high; the low part of every configuration
    # is computed once, each high configuration then adds one row (no matmul per configuration)
    n_low = min(H, max(1, (EXACT_CHUNK_ELEMENTS // max(D, 1)).bit_length() - 1))
    h_low = all_binary(n_low).to(W.device, dtype)  # (2^low, low)
    pre_low = h_low @ W[:n_low]  # (2^low, D)
    c_low = h_low @ c[:n_low]  # (2^low,)
    h_high = all_binary(H - n_low).to(W.device, dtype)  # (2^high, high) (one empty row when high = 0)
    # one preallocated buffer: a list of 0-dim tensors, each allocated between two 25 MB temporaries,
    # fragmented the heap until a 25-unit sum reached 23 GB (glibc could neither reuse nor trim it)
    parts = torch.empty(len(h_high), dtype=torch.float64, device=W.device)
    for i, row in enumerate(h_high):
        pre = pre_low + (b + row @ W[n_low:])  # (2^low, D): b + W^T h
        log_p = c_low + row @ c[n_low:]  # (2^low,) c^T h
        if rbm.visible == "bernoulli":
            log_p = log_p + torch.logaddexp(pre, torch.zeros((), dtype=dtype)).sum(-1)  # softplus, faster
        else:
            log_p = log_p + 0.5 * (pre.pow(2).sum(-1) - b.pow(2).sum())
        parts[i] = torch.logsumexp(log_p.double(), 0)
    log_z = torch.logsumexp(parts, 0)
    return log_z + (0.5 * D * LOG_2PI if rbm.visible == "gaussian" else 0.0)


def log_z_brute_force(rbm: RBM) -> torch.Tensor:
    """log Z by enumerating every (v, h) pair (Bernoulli, D + H <= ~20): the reference in the tests."""
    D, H = rbm.n_visible, rbm.n_hidden
    if rbm.visible != "bernoulli" or D + H > 22:
        raise ValueError("brute-force log Z needs a Bernoulli RBM with D + H <= 22")
    vs, hs = all_binary(D).double(), all_binary(H).double()  # (2^D, D), (2^H, H)
    W, b, c = (t.detach().double() for t in (rbm.W, rbm.b, rbm.c))
    neg_e = (vs @ b)[:, None] + (hs @ c)[None, :] + vs @ W.T @ hs.T  # (2^D, 2^H): -E(v, h)
    return torch.logsumexp(neg_e.flatten(), 0)


def all_binary(n: int) -> torch.Tensor:
    """Every configuration of n binary units, (2^n, n) float."""
    idx = torch.arange(2**n)
    return ((idx[:, None] & (2 ** torch.arange(n))) > 0).float()


def base_rate_loglik(x: torch.Tensor, b_a: torch.Tensor) -> torch.Tensor:
    """log p_A(x) = b_A^T x - sum_i softplus(b_A_i) of the base-rate model: (N, ...) -> (N,)."""
    x = x.reshape(len(x), -1).double()
    return x @ b_a - F.softplus(b_a).sum()


def ais_betas(n_betas: int) -> torch.Tensor:
    """0 = beta_0 < ... < beta_K = 1 (K = n_betas) with Salakhutdinov & Murray's shape: (K + 1,)."""
    if n_betas < 3:
        raise ValueError(f"AIS needs at least 3 temperatures, got {n_betas}")
    n1 = max(1, round(n_betas * 500 / 14500))
    n2 = max(1, round(n_betas * 4000 / 14500))
    n3 = n_betas - n1 - n2
    return torch.cat(
        [
            torch.linspace(0.0, 0.5, n1 + 1)[:-1],
            torch.linspace(0.5, 0.9, n2 + 1)[:-1],
            torch.linspace(0.9, 1.0, n3 + 1),
        ]
    ).double()


def ais_cost_gflop(n_visible: int, n_hidden: int, *, n_chains: int, n_betas: int) -> float:
    """Work of one AIS run: per chain and temperature, W v and W^T h (2 flops a multiply-add each)."""
    return 4.0 * n_chains * n_betas * n_visible * n_hidden / 1e9


@dataclass(frozen=True)
class AISResult:
    log_z: float  # log Z_0 + logmeanexp(log w)
    log_z_low: float  # log(mean w - 3 standard errors), -inf when that is <= 0 (S&M 2008 report +-3 sd)
    log_z_high: float  # log(mean w + 3 standard errors)
    n_chains: int
    n_betas: int


@torch.no_grad()
def log_z_ais(
    rbm: RBM,
    base_bias: torch.Tensor,
    *,
    n_chains: int = 100,
    n_betas: int = 14500,
    generator: torch.Generator | None = None,
    budget_gflop: float = 5000.0,
) -> AISResult:
    """log Z of a Bernoulli RBM by AIS from the base-rate model with visible biases ``base_bias``."""
    if rbm.visible != "bernoulli":
        raise ValueError("AIS here anneals from a Bernoulli base-rate model: Bernoulli RBMs only (use exact log Z)")
    D, H = rbm.n_visible, rbm.n_hidden
    cost = ais_cost_gflop(D, H, n_chains=n_chains, n_betas=n_betas)
    if cost > budget_gflop:
        raise AISBudgetError(
            f"AIS with {n_chains} chains x {n_betas} temperatures on a {D}x{H} RBM needs ~{cost:.3g} GFLOP, "
            f"over the budget of {budget_gflop:g} GFLOP (task.ais_max_gflop); lower task.ais_chains or "
            f"task.ais_betas, or raise the budget"
        )
    W, b, c = (t.detach().float() for t in (rbm.W, rbm.b, rbm.c))  # (H, D), (D,), (H,)
    b_a = base_bias.to(W.device).float()  # (D,)
    betas = ais_betas(n_betas).tolist()
    p_a = torch.sigmoid(b_a).expand(n_chains, D)  # (M, D)
    v = bernoulli(p_a, generator)  # (M, D) v_1 ~ p_A
    log_w = torch.zeros(n_chains, dtype=torch.float64, device=W.device)  # (M,)
    for k in range(1, len(betas)):
        beta, prev = betas[k], betas[k - 1]
        a = v @ W.T + c  # (M, H)
        # log p*_k(v) - log p*_{k-1}(v)
        log_w += ((beta - prev) * (v @ (b - b_a)) + (F.softplus(beta * a) - F.softplus(prev * a)).sum(-1)).double()
        if k < len(betas) - 1:  # v ~ T_k(v): one Gibbs sweep at inverse temperature beta_k
            h = bernoulli(torch.sigmoid(beta * a), generator)  # (M, H)
            v = bernoulli(torch.sigmoid((1 - beta) * b_a + beta * (h @ W + b)), generator)
    log_z0 = float(F.softplus(b_a.double()).sum()) + H * math.log(2)
    top = float(log_w.max())
    r = (log_w - top).exp()  # (M,) w / max w
    mean, se = float(r.mean()), float(r.std() / math.sqrt(n_chains)) if n_chains > 1 else 0.0
    low = math.log(mean - 3 * se) + top + log_z0 if mean - 3 * se > 0 else float("-inf")
    return AISResult(
        log_z=math.log(mean) + top + log_z0,
        log_z_low=low,
        log_z_high=math.log(mean + 3 * se) + top + log_z0,
        n_chains=n_chains,
        n_betas=n_betas,
    )
