"""Normalization layers as bijections: actnorm (Glow, Kingma & Dhariwal 2018, Sec. 3.1) and batch
normalization (RealNVP, Dinh et al. 2017, Sec. 3.7; MAF, Papamakarios et al. 2017, Sec. 3.4).

Actnorm: y = (x + b) * exp(log_s) per channel, log|det| = H W sum(log_s). The first training batch
sets b = -mean, log_s = -log std (data-dependent initialisation), so the post-actnorm activations of
that batch have zero mean and unit variance; the ``initialized`` flag is a buffer, so it is saved
with the weights and a loaded model is not re-initialised. An actnorm that was never initialised
is the identity.

Batch norm: y = (x - m) / sqrt(v + eps) * exp(log_gamma) + beta with the batch statistics in
training (and the running averages otherwise); log|det| = sum(log_gamma - 1/2 log(v + eps)).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _view(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A per-feature (C,) vector broadcast against x (B, C) or (B, C, H, W)."""
    return p.view(1, -1, *([1] * (x.ndim - 2)))


def _spatial(x: torch.Tensor) -> int:
    return math.prod(x.shape[2:])  # H * W for images, 1 for vectors


class ActNorm(nn.Module):
    """Per-channel affine map with data-dependent initialisation. Shapes: x (B, C) or (B, C, H, W)."""

    def __init__(self, channels: int, *, eps: float = 1e-6) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(False))
        self.eps = eps

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        flat = x.transpose(0, 1).reshape(x.shape[1], -1)  # (C, B * H * W)
        self.loc.copy_(-flat.mean(1))
        self.log_scale.copy_(-torch.log(flat.std(1, unbiased=False) + self.eps))
        self.initialized.fill_(True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not bool(self.initialized):
            self.initialize(x)
        y = (x + _view(self.loc, x)) * torch.exp(_view(self.log_scale, x))
        return y, (self.log_scale.sum() * _spatial(x)).expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(-_view(self.log_scale, y)) - _view(self.loc, y)


class BatchNormFlow(nn.Module):
    """Batch normalization as a bijection (statistics per feature). Shapes: x (B, D) or (B, C, H, W)."""

    def __init__(self, features: int, *, momentum: float = 0.05, eps: float = 1e-5) -> None:
        super().__init__()
        self.log_gamma = nn.Parameter(torch.zeros(features))
        self.beta = nn.Parameter(torch.zeros(features))
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))
        self.momentum, self.eps = momentum, eps

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training:
            flat = x.transpose(0, 1).reshape(x.shape[1], -1)  # (C, B * H * W)
            mean, var = flat.mean(1), flat.var(1, unbiased=False)
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var, self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - _view(mean, x)) / torch.sqrt(_view(var, x) + self.eps)
        y = y * torch.exp(_view(self.log_gamma, x)) + _view(self.beta, x)
        logdet = (self.log_gamma - 0.5 * torch.log(var + self.eps)).sum() * _spatial(x)
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """With the running statistics (sampling happens in eval mode)."""
        mean, var = self.running_mean, self.running_var
        x = (y - _view(self.beta, y)) * torch.exp(-_view(self.log_gamma, y))
        return x * torch.sqrt(_view(var, y) + self.eps) + _view(mean, y)
