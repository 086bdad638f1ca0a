"""MADE (Germain et al. 2015) and the masked autoregressive flow (MAF, Papamakarios et al. 2017).

MADE masks the weights of an MLP so that output i depends only on inputs with a smaller degree:
input j has degree j (1..D), hidden unit k a degree m(k) in 1..D-1, and (Germain et al. eq. 12-13)

    M^W[k, j] = 1[m(k) >= j]    (hidden <- input / hidden)
    M^V[i, k] = 1[i > m(k)]     (output <- hidden)

MAF's layer (Papamakarios et al. eq. 2-3) with (mu_i, alpha_i) = MADE(x_{1:i-1}):

    z_i = (x_i - mu_i) exp(-alpha_i)        log|det dz/dx| = -sum_i alpha_i       (density: one pass)
    x_i = z_i exp(alpha_i) + mu_i           (sampling: D passes, the IAF direction)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MaskedLinear(nn.Linear):
    """y = x (W * M)^T + b with a fixed binary mask M (out, in) kept as a buffer."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor) -> None:
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder for distribution estimation: (B, D) -> (B, D, params) autoregressive outputs.

    Args:
        features: D.
        hidden: widths of the hidden layers (each >= D - 1 so every degree is present).
        params: outputs per input dimension (2 for MAF's mu, alpha; 3K - 1 for a K-bin spline).
    """

    def __init__(self, features: int, hidden: tuple[int, ...], params: int) -> None:
        super().__init__()
        self.features, self.params = features, params
        degrees_in = torch.arange(1, features + 1)  # (D,) input degrees 1..D
        layers: list[nn.Module] = []
        prev = degrees_in
        for h in hidden:
            deg = torch.arange(h) % max(features - 1, 1) + 1  # (h,) degrees cycling through 1..D-1
            layers += [MaskedLinear(len(prev), h, deg[:, None] >= prev[None, :]), nn.ReLU()]
            prev = deg
        deg_out = degrees_in.repeat_interleave(params)  # (D * params,) output i carries degree i
        last = MaskedLinear(len(prev), features * params, deg_out[:, None] > prev[None, :])
        nn.init.zeros_(last.weight)  # start as the identity flow
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(x.shape[0], self.features, self.params)  # (B, D, params)


class MAFLayer(nn.Module):
    """One MAF layer: z = (x - mu(x)) exp(-alpha(x)) (density pass), its inverse one dimension at a time.

    alpha is soft-clamped to [-clamp, clamp] (clamp * tanh(alpha / clamp)) so one bad batch cannot
    overflow exp.
    """

    def __init__(self, features: int, hidden: tuple[int, ...], *, clamp: float = 5.0) -> None:
        super().__init__()
        self.made = MADE(features, hidden, params=2)
        self.clamp = clamp

    def _mu_alpha(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, alpha = self.made(x).unbind(-1)  # (B, D) each
        return mu, self.clamp * torch.tanh(alpha / self.clamp)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, alpha = self._mu_alpha(x)
        z = (x - mu) * torch.exp(-alpha)  # Papamakarios et al. eq. 3
        return z, -alpha.sum(-1)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        x = torch.zeros_like(z)
        for i in range(z.shape[1]):  # x_i needs x_{1:i-1}: D passes (eq. 2)
            mu, alpha = self._mu_alpha(x)
            x = x.clone()
            x[:, i] = z[:, i] * torch.exp(alpha[:, i]) + mu[:, i]
        return x
