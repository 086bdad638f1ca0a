"""Glow's invertible 1x1 convolution in LU form (Kingma & Dhariwal 2018, Sec. 3.2) and the multi-scale
squeeze / split architecture (RealNVP, Dinh et al. 2017, Sec. 3.6; Glow Fig. 2b).

1x1 convolution with W = P L (U + diag(sign(s) exp(log|s|))): P a fixed permutation, L unit lower
triangular, U strictly upper triangular, so (Glow Table 1)

    log|det dy/dx| = H W sum(log|s|)                     (O(C) instead of O(C^3))

Squeeze turns each 2x2 patch into channels: (B, C, H, W) -> (B, 4C, H/2, W/2), |det| = 1. After each
scale but the last, half of the channels are factored out (split) and go straight to the Gaussian
base; the rest continue at the next scale. The output z is the concatenation of every factored-out
part, flattened: (B, C H W).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class InvConv1x1(nn.Module):
    """y = W x at every pixel, W in LU form, initialised from a random rotation (seeded)."""

    def __init__(self, channels: int, *, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        w = torch.linalg.qr(torch.randn(channels, channels, generator=g))[0]  # (C, C) orthogonal
        p, lower, upper = torch.linalg.lu(w)
        s = torch.diagonal(upper)
        self.register_buffer("p", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.register_buffer("eye", torch.eye(channels))
        self.lower = nn.Parameter(lower * self.lower_mask)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(s.abs()))

    def weight(self) -> torch.Tensor:
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.p @ lower @ upper  # (C, C)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.weight()
        y = F.conv2d(x, w.view(*w.shape, 1, 1))
        return y, (self.log_s.sum() * x.shape[2] * x.shape[3]).expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        w_inv = torch.linalg.inv(self.weight())
        return F.conv2d(y, w_inv.view(*w_inv.shape, 1, 1))


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 4C, H/2, W/2), each 2x2 patch into channels."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // 2, 2, w // 2, 2)
    return x.permute(0, 1, 3, 5, 2, 4).reshape(b, c * 4, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`squeeze`: (B, 4C, H/2, W/2) -> (B, C, H, W)."""
    b, c4, h, w = x.shape
    c = c4 // 4
    x = x.view(b, c, 2, 2, h, w)
    return x.permute(0, 1, 4, 2, 5, 3).reshape(b, c, h * 2, w * 2)


class MultiScale(nn.Module):
    """levels x [squeeze -> steps -> split half]; the last level keeps all its channels.

    ``levels[i]`` is the flow (a bijection on (B, C_i, H_i, W_i)) run after the i-th squeeze.
    ``pre`` runs before the first squeeze (RealNVP's checkerboard couplings at full resolution).
    Shapes: x (B, C, H, W) -> z (B, C H W).
    """

    def __init__(self, pre: nn.Module | None, levels: list[nn.Module]) -> None:
        super().__init__()
        self.pre = pre
        self.levels = nn.ModuleList(levels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = x.new_zeros(x.shape[0])
        if self.pre is not None:
            x, logdet = self.pre(x)
        factored = []
        for i, level in enumerate(self.levels):
            x, ld = level(squeeze(x))
            logdet = logdet + ld
            if i < len(self.levels) - 1:
                z, x = x.chunk(2, dim=1)  # factor out half of the channels (split)
                factored.append(z.flatten(1))
        factored.append(x.flatten(1))
        return torch.cat(factored, dim=1), logdet

    def inverse(self, z: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
        """z (B, C H W) -> x (B, C, H, W); ``shape`` = (C, H, W) of one example."""
        c, h, w = shape
        shapes = []  # (C_i, H_i, W_i) after each level's squeeze
        for i in range(len(self.levels)):
            c, h, w = c * 4, h // 2, w // 2
            shapes.append((c, h, w))
            if i < len(self.levels) - 1:
                c = c // 2
        sizes = [s[0] // 2 * s[1] * s[2] for s in shapes[:-1]] + [shapes[-1][0] * shapes[-1][1] * shapes[-1][2]]
        parts = list(z.split(sizes, dim=1))
        x = parts[-1].view(z.shape[0], *shapes[-1])
        for i in range(len(self.levels) - 1, -1, -1):
            if i < len(self.levels) - 1:
                ci, hi, wi = shapes[i]
                x = torch.cat([parts[i].view(z.shape[0], ci // 2, hi, wi), x], dim=1)
            x = unsqueeze(self.levels[i].inverse(x))
        return x if self.pre is None else self.pre.inverse(x)
