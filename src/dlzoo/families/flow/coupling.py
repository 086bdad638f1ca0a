"""Affine coupling (RealNVP, Dinh et al. 2017, Sec. 3.2-3.4) with checkerboard and channel masks.

With a binary mask b (1 = kept), the coupling layer is (eq. 9)

    y = b * x + (1 - b) * (x * exp(s(b * x)) + t(b * x))

whose Jacobian is triangular, so log|det| = sum_j (1 - b_j) s_j(b * x) (eq. 6), and whose inverse is

    x = b * y + (1 - b) * (y - t(b * y)) * exp(-s(b * y))                             (eq. 8)

s = scale * tanh(raw) bounds the log-scale (the RealNVP reference code's tanh trick); the last layer
of the conditioner starts at zero, so every coupling starts as the identity.
"""

from __future__ import annotations

import torch
from torch import nn


def mlp(in_features: int, hidden: tuple[int, ...], out_features: int) -> nn.Sequential:
    """in -> hidden... (ReLU) -> out, the last layer zero-initialised (the flow starts as the identity)."""
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    last = nn.Linear(width, out_features)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(*layers, last)


class ConvNet(nn.Module):
    """The image conditioner: conv3x3 -> ReLU -> conv1x1 -> ReLU -> conv3x3 (zero-initialised), as Glow's NN()."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1),
            nn.ReLU(),
            nn.Conv2d(hidden, out_channels, 3, padding=1),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def alternating_mask(features: int, *, parity: int) -> torch.Tensor:
    """(D,) vector mask 1, 0, 1, 0, ... (parity 0) or 0, 1, 0, 1, ... (parity 1)."""
    return ((torch.arange(features) + parity) % 2 == 0).float()


def checkerboard_mask(height: int, width: int, *, parity: int) -> torch.Tensor:
    """(1, H, W) spatial checkerboard (RealNVP Fig. 3 left): 1 where (i + j + parity) is even."""
    i, j = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return ((i + j + parity) % 2 == 0).float().unsqueeze(0)


def channel_mask(channels: int, *, parity: int) -> torch.Tensor:
    """(C, 1, 1) channel-wise mask (RealNVP Fig. 3 right): the first half kept (parity 0) or the second."""
    first = (torch.arange(channels) < channels // 2).float()
    return (first if parity == 0 else 1 - first).view(channels, 1, 1)


class AffineCoupling(nn.Module):
    """y = b x + (1 - b)(x exp(s) + t), (s, t) = net(b x); ``net`` maps (B, C, ...) to (B, 2C, ...).

    Shapes: x (B, D) with mask (D,), or x (B, C, H, W) with mask (1, H, W) or (C, 1, 1).
    """

    def __init__(self, mask: torch.Tensor, net: nn.Module) -> None:
        super().__init__()
        self.register_buffer("mask", mask)
        self.net = net
        self.scale = nn.Parameter(torch.ones(()))  # s = scale * tanh(raw)

    def _shift_log_scale(self, x_kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_s, t = self.net(x_kept).chunk(2, dim=1)  # (B, C, ...) each
        free = 1 - self.mask
        return self.scale * torch.tanh(raw_s) * free, t * free

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_kept = x * self.mask
        s, t = self._shift_log_scale(x_kept)
        y = x_kept + (1 - self.mask) * (x * torch.exp(s) + t)  # eq. 9
        return y, s.flatten(1).sum(-1)  # eq. 6: sum of the free dims' log-scales

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        y_kept = y * self.mask
        s, t = self._shift_log_scale(y_kept)
        return y_kept + (1 - self.mask) * (y - t) * torch.exp(-s)  # eq. 8
