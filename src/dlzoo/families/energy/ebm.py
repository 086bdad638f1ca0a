"""A deep energy-based model: an MLP energy E_theta(x), sampled by Langevin dynamics.

Du & Mordatch (2019), "Implicit Generation and Modeling with Energy-Based Models": p(x) ∝ exp(-E(x))
with an unconstrained network E, no partition function computed anywhere. Samples come from K steps of

    x_{k+1} = x_k - lambda grad_x E(x_k) + omega_k,   omega_k ~ N(0, sigma^2 I)       (Sec. 2.1, eq. 3)

started from a replay buffer of past samples (95%) or uniform noise (5%); the objective is in
``ebm_objective.py``. ``forward`` is the energy, (B, *input_shape) -> (B,): ``EnergyMLP`` for vectors
(the 2-D toys), ``ConvEnergy`` for images (MNIST; a smaller version of Du & Mordatch's conv energy).
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


class ConvEnergy(nn.Module):
    """E(x) = Linear(SiLU(Linear(flatten(convs(x))))): strided 3x3/4x4 convolutions with SiLU (Swish, as
    in Du & Mordatch's MNIST model; smooth, so grad_x E exists everywhere), no normalization layers (a
    batch statistic would couple the energies of a batch), no spectral norm (the alpha regularizer of
    the objective keeps the energies bounded instead).

    Widths (c1, c2, c3): conv 3x3 stride 1 -> c1, conv 4x4 stride 2 -> c2, conv 4x4 stride 2 -> c3
    (28x28 -> 28 -> 14 -> 7), then hidden layers of widths ``hidden`` (SiLU) and the scalar energy.

    Shapes: x (B, C, H, W) -> E (B,)
    """

    def __init__(
        self,
        *,
        input_shape: tuple[int, ...],
        channels: tuple[int, ...] = (32, 64, 64),
        hidden: tuple[int, ...] = (128,),
    ) -> None:
        super().__init__()
        if len(input_shape) != 3 or len(channels) != 3:
            raise ValueError(
                f"ConvEnergy needs images (C, H, W) and three conv widths; got input_shape {tuple(input_shape)} "
                f"and channels {tuple(channels)}"
            )
        self.input_shape = tuple(input_shape)
        c, h, w = self.input_shape
        c1, c2, c3 = channels
        self.convs = nn.Sequential(
            nn.Conv2d(c, c1, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(c2, c3, 4, stride=2, padding=1), nn.SiLU(),
        )  # fmt: skip
        dims = (c3 * (h // 4) * (w // 4), *hidden)  # two stride-2 4x4 convs with padding 1: H -> H/2 -> H/4
        layers: list[nn.Module] = []
        for d_in, d_out in zip(dims, dims[1:], strict=False):
            layers += [nn.Linear(d_in, d_out), nn.SiLU()]
        self.head = nn.Sequential(*layers, nn.Linear(dims[-1], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x).flatten(1)).squeeze(-1)  # (B,)


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
