"""The squared Frobenius norm of the encoder Jacobian, ||J_f(x)||_F^2 = sum_ji (dh_j / dx_i)^2.

Rifai et al. (2011), "Contractive Auto-Encoders: Explicit Invariance During Feature Extraction",
ICML, Sec. 3 and eq. 7: the contractive penalty. Three ways to compute it, per example (B,):

- ``closed_form``: for the one-layer encoder h = s(Wx + b) with an elementwise s,
  dh_j / dx_i = s'(a_j) W_ji, so ||J||_F^2 = sum_j s'(a_j)^2 sum_i W_ji^2; for the sigmoid
  s'(a_j) = h_j (1 - h_j) (Rifai et al. 2011, Sec. 3). Exact, and as cheap as the forward pass.
- ``exact``: any encoder, the full Jacobian (B, code, *input_shape) by ``torch.func.vmap(jacrev)``
  in chunks of examples; exact, costs ``code_dim`` vector-Jacobian products per example.
- ``hutchinson``: an unbiased estimate, E_u ||J^T u||^2 = E_u u^T J J^T u = tr(J J^T) = ||J||_F^2 for
  u ~ N(0, I) in code space (Hutchinson 1989), J^T u by one backward pass with ``create_graph`` so the
  penalty is differentiable; ``probes`` draws averaged. Used to train the convolutional CAE.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

#: s'(a) written through the output h = s(a), for the elementwise code activations
DERIVATIVE_FROM_OUTPUT: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": lambda h: h * (1 - h),
    "tanh": lambda h: 1 - h * h,
    "relu": lambda h: (h > 0).to(h.dtype),
    "linear": lambda h: torch.ones_like(h),
}


def has_closed_form(model: Any) -> bool:
    """True for the one-layer MLP encoder h = s(Wx + b) (``hidden=()``): no layers before the code."""
    encoder = getattr(model, "encoder", None)
    body = getattr(encoder, "body", None)
    return (
        isinstance(getattr(encoder, "code", None), nn.Linear)
        and isinstance(body, nn.Sequential)
        and len(body) == 0
        and getattr(model, "code_activation", None) in DERIVATIVE_FROM_OUTPUT
    )


def closed_form(h: torch.Tensor, weight: torch.Tensor, activation: str) -> torch.Tensor:
    """||J||_F^2 of h = s(Wx + b): h (B, K), W (K, D) -> (B,)."""
    # ||J_f(x)||_F^2 = sum_j s'(a_j)^2 sum_i W_ji^2     (Rifai et al. 2011, Sec. 3; s' = h(1 - h) for a sigmoid)
    return (DERIVATIVE_FROM_OUTPUT[activation](h).pow(2) * weight.pow(2).sum(1)).sum(-1)  # (B,)


def exact(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, chunk: int = 64) -> torch.Tensor:
    """||J||_F^2 from the full per-example Jacobian, (B,); differentiable w.r.t. the encoder's weights.

    ``encode`` maps a batch (B, *input_shape) -> (B, K) with examples independent of each other.
    """
    from torch.func import jacrev, vmap

    def one(xi: torch.Tensor) -> torch.Tensor:
        return encode(xi.unsqueeze(0)).squeeze(0)  # (*input_shape,) -> (K,)

    out = []
    for start in range(0, len(x), chunk):
        jac = vmap(jacrev(one))(x[start : start + chunk])  # (b, K, *input_shape)
        out.append(jac.flatten(1).pow(2).sum(-1))  # (b,)
    return torch.cat(out)


def hutchinson(
    h: torch.Tensor, x: torch.Tensor, *, probes: int = 1, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Unbiased estimate of ||J||_F^2, (B,): the mean over ``probes`` of ||J^T u||^2, u ~ N(0, I).

    ``h`` (B, K) must have been computed from ``x`` (B, ...) with ``x.requires_grad``; the result
    keeps the graph (create_graph) so that it can be minimized.
    """
    total = torch.zeros(len(x), device=x.device, dtype=x.dtype)
    for _ in range(probes):
        u = torch.randn(h.shape, generator=generator, device=h.device, dtype=h.dtype)  # (B, K)
        # J^T u = d(u . h) / dx, one backward pass; E ||J^T u||^2 = tr(J J^T) = ||J||_F^2
        (jtu,) = torch.autograd.grad(h, x, grad_outputs=u, create_graph=True)  # (B, *input_shape)
        total = total + jtu.flatten(1).pow(2).sum(-1)
    return total / probes


def frobenius_sq(model: Any, x: torch.Tensor, *, chunk: int = 64) -> torch.Tensor:
    """Exact ||J_f(x)||_F^2 for evaluation, (B,): the closed form when it applies, else ``exact``."""
    if has_closed_form(model):
        return closed_form(model.encode(x), model.encoder.code.weight, model.code_activation)
    return exact(model.encode, x, chunk=chunk)
