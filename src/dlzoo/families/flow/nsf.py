"""Neural spline flow layers (Durkan et al. 2019): rational-quadratic splines in a coupling layer
(Sec. 3.2, "RQ-NSF (C)") and in an autoregressive layer (Sec. 3.3, "RQ-NSF (AR)").

Coupling: x = (x_A, x_B), theta = NN(x_A), y_B = g_theta(x_B) elementwise, y_A = x_A;
log|det| = sum_{i in B} log g'_theta(x_i). Autoregressive: theta_i = MADE(x_{1:i-1}), y_i = g_theta_i(x_i)
(one pass for the density, D passes to invert). The splines' math is in splines.py.
"""

from __future__ import annotations

import torch
from torch import nn

from dlzoo.families.flow.autoregressive import MADE
from dlzoo.families.flow.coupling import mlp
from dlzoo.families.flow.splines import rational_quadratic_spline


def _spline(
    x: torch.Tensor, theta: torch.Tensor, bins: int, bound: float, *, inverse: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """theta (..., 3K - 1) -> widths, heights, derivatives; the spline of x (...,) and log|g'| (...,)."""
    w, h, d = theta[..., :bins], theta[..., bins : 2 * bins], theta[..., 2 * bins :]
    return rational_quadratic_spline(x, w, h, d, bound=bound, inverse=inverse)


class SplineCoupling(nn.Module):
    """Spline coupling on vectors: the dims where ``mask`` is 1 condition the splines of the others.

    Shapes: x (B, D); mask (D,) with both values present.
    """

    def __init__(self, mask: torch.Tensor, hidden: tuple[int, ...], *, bins: int = 8, bound: float = 4.0) -> None:
        super().__init__()
        self.register_buffer("kept", mask.nonzero().flatten())
        self.register_buffer("free", (1 - mask).nonzero().flatten())
        self.bins, self.bound = bins, bound
        self.net = mlp(len(self.kept), hidden, len(self.free) * (3 * bins - 1))

    def _transform(self, x: torch.Tensor, *, inverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        theta = self.net(x[:, self.kept]).view(x.shape[0], len(self.free), 3 * self.bins - 1)  # (B, |free|, 3K-1)
        y_free, lad = _spline(x[:, self.free], theta, self.bins, self.bound, inverse=inverse)  # (B, |free|) each
        y = x.clone()
        y[:, self.free] = y_free
        return y, lad.sum(-1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._transform(x, inverse=False)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return self._transform(z, inverse=True)[0]


class SplineAutoregressive(nn.Module):
    """z_i = g_{theta_i}(x_i), theta_i = MADE(x_{1:i-1}). Shapes: x (B, D)."""

    def __init__(self, features: int, hidden: tuple[int, ...], *, bins: int = 8, bound: float = 4.0) -> None:
        super().__init__()
        self.bins, self.bound = bins, bound
        self.made = MADE(features, hidden, params=3 * bins - 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, lad = _spline(x, self.made(x), self.bins, self.bound, inverse=False)  # (B, D) each
        return z, lad.sum(-1)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        x = torch.zeros_like(z)
        for i in range(z.shape[1]):  # D passes: x_i needs x_{1:i-1}
            xi, _ = _spline(z[:, i], self.made(x)[:, i], self.bins, self.bound, inverse=True)
            x = x.clone()
            x[:, i] = xi
        return x
