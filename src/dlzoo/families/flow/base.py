"""The bijection contract, composition, permutations and the Gaussian base density.

Every bijection f of the family is an ``nn.Module`` with

    forward(x) -> (z, log|det df/dx|)      z: same shape as x (or flat), log-det: (B,)
    inverse(z) -> x

so that, by the change of variables (Dinh et al. 2017, eq. 3),

    log p_X(x) = log p_Z(f(x)) + log|det df/dx|                                   (1)

and a composition f = f_K o ... o f_1 adds the log-dets of its steps (eq. 4).
"""

from __future__ import annotations

import math

import torch
from torch import nn

LOG_2PI = math.log(2 * math.pi)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over every dimension but the batch: (B, ...) -> (B,)."""
    return -0.5 * (z.pow(2) + LOG_2PI).flatten(1).sum(-1)


class Compose(nn.Module):
    """f = f_K o ... o f_1: forward runs the steps in order and sums their log-dets; inverse runs them back."""

    def __init__(self, steps: list[nn.Module]) -> None:
        super().__init__()
        self.steps = nn.ModuleList(steps)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = x.new_zeros(x.shape[0])  # (B,)
        for step in self.steps:
            x, ld = step(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        for step in reversed(self.steps):
            z = step.inverse(z)
        return z


class Permutation(nn.Module):
    """z = x[:, perm] over the feature (or channel) dimension 1; |det| = 1. ``perm``: a fixed buffer."""

    def __init__(self, perm: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("perm", perm.long())
        self.register_buffer("inv_perm", torch.argsort(perm).long())

    @classmethod
    def reverse(cls, features: int) -> Permutation:
        """The order reversal MAF and RealNVP use between layers (Papamakarios et al. 2017, Sec. 3)."""
        return cls(torch.arange(features - 1, -1, -1))

    @classmethod
    def random(cls, features: int, *, seed: int) -> Permutation:
        return cls(torch.randperm(features, generator=torch.Generator().manual_seed(seed)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x[:, self.perm], x.new_zeros(x.shape[0])

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, self.inv_perm]


class Standardization(nn.Module):
    """z = (x - mean) / std with the training data's statistics (fitted by the generative paradigm's
    ``fit_standardizers``); log|det| = -sum log std. Puts every toy set on the scale the flow expects."""

    def __init__(self, features: int) -> None:
        super().__init__()
        from dlzoo.layers import Standardize

        self.standardize = Standardize(features)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.standardize
        z = (x - s.mean) / s.std  # (B, D)
        return z, (-s.std.log().sum()).expand(x.shape[0])

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        s = self.standardize
        return z * s.std + s.mean
