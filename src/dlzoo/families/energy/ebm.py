"""A deep energy-based model: an MLP energy E_theta(x), sampled by Langevin dynamics.

Du & Mordatch (2019), "Implicit Generation and Modeling with Energy-Based Models": p(x) ∝ exp(-E(x))
with an unconstrained network E, no partition function computed anywhere. Samples come from K steps of

    x_{k+1} = x_k - lambda grad_x E(x_k) + omega_k,   omega_k ~ N(0, sigma^2 I)       (Sec. 2.1, eq. 3)

started from a replay buffer of past samples (95%) or uniform noise (5%); the objective is in
``ebm_objective.py``. ``forward`` is the energy, (B, *input_shape) -> (B,).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dlzoo.layers import SinCosFeatures


class EnergyMLP(nn.Module):
    """E(x) = MLP(x) with SiLU activations (smooth: Langevin needs grad_x E), a scalar per example.

    Shapes: x (B, *input_shape) -> E (B,)
    """

    def __init__(
        self, *, input_shape: tuple[int, ...], hidden: tuple[int, ...] = (128, 128, 128), x_frequencies: int = 0
    ) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.features = SinCosFeatures(x_frequencies)  # [x; sin(2^k x); cos(2^k x)]: the identity at 0
        dims = (self.features.out_features(math.prod(self.input_shape)), *hidden)
        layers: list[nn.Module] = []
        for d_in, d_out in zip(dims, dims[1:], strict=False):
            layers += [nn.Linear(d_in, d_out), nn.SiLU()]
        self.net = nn.Sequential(*layers, nn.Linear(dims[-1], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.features(x.flatten(1))).squeeze(-1)  # (B,)


def langevin(
    model: nn.Module,
    x: torch.Tensor,
    *,
    steps: int,
    step_size: float,
    noise: float,
    bounds: tuple[float, float],
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """K Langevin steps x <- clamp(x - lambda grad_x E(x) + N(0, sigma^2)) (gradients w.r.t. x only): (B, ...)."""
    x = x.detach()
    for _ in range(steps):
        x.requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(model(x).sum(), x)  # (B, ...)
        eps = torch.randn(x.shape, generator=generator, device=x.device)
        x = (x.detach() - step_size * grad + noise * eps).clamp(*bounds)
    return x.detach()
