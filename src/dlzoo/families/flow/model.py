"""Flow models: a bijection f and a standard Gaussian base, log p(x) = log N(f(x); 0, I) + log|det df/dx|.

``forward(x)`` is the log-density path (what is trained, evaluated, served at ``/log_prob`` and
exported): (B, *input_shape) -> (B,) log-likelihoods in nats. ``sample`` draws z ~ N(0, T^2 I) and
returns f^{-1}(z).

``ImageFlow`` models 8-bit (or L-level) images: x in {0, 1/(L-1), ..., 1} is dequantized with
uniform noise, y = (x (L - 1) + u) / L, u ~ U[0, 1)^D, and mapped to logit space,
s = logit(a + (1 - 2a) y) (RealNVP Sec. 4.1, a = 0.05), whose log-det is counted:

    log p(x) ~= log p_S(s) + log|ds/dy| - D log L                                     (2)

(the -D log L turns the density of y in [0, 1]^D into the probability of the L-level cell; Theis et
al. 2016: E_u log p(y) is a lower bound on the discrete log-likelihood). So -forward(x) is the NLL of
the discrete data in nats, and NLL / (D ln 2) the standard bits/dim.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dlzoo.families.flow.base import standard_normal_log_prob


class Flow(nn.Module):
    """A vector flow: ``transform`` is a bijection on (B, D). Shapes: x (B, D) -> log p (B,)."""

    def __init__(self, transform: nn.Module, *, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.transform = transform
        self.input_shape = tuple(input_shape)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z, logdet = self.transform(x)  # (B, D), (B,)
        return standard_normal_log_prob(z) + logdet  # eq. (1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob(x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, *, temperature: float = 1.0) -> torch.Tensor:
        """n draws x = f^{-1}(T z), z ~ N(0, I): (n, *input_shape)."""
        dev = next(self.parameters()).device
        z = temperature * torch.randn(n, math.prod(self.input_shape), generator=generator).to(dev)
        return self.transform.inverse(z).view(n, *self.input_shape)


class ImageFlow(Flow):
    """An image flow on L-level pixels in [0, 1]: dequantization + logit, then a multi-scale bijection.

    ``forward(x)`` dequantizes with fresh noise in training and with u = 1/2 (the cell's center)
    otherwise, so eval-mode outputs are deterministic; the objective's evaluation passes seeded noise.
    """

    def __init__(self, transform: nn.Module, *, input_shape: tuple[int, ...], levels: int, alpha: float = 0.05) -> None:
        super().__init__(transform, input_shape=input_shape)
        self.levels, self.alpha = levels, alpha

    def preprocess(self, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x in [0, 1] (L levels), u in [0, 1) -> s in logit space and log|ds/dx_cell| - D log L, (B,)."""
        y = (x * (self.levels - 1) + noise) / self.levels  # (B, C, H, W) in (0, 1)
        p = self.alpha + (1 - 2 * self.alpha) * y
        s = torch.log(p) - torch.log1p(-p)  # logit
        # ds/dy = (1 - 2a) / (p (1 - p)); the cell of x has volume L^-D in y-space
        logdet = (math.log(1 - 2 * self.alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(-1)
        return s, logdet - math.prod(self.input_shape) * math.log(self.levels)

    def log_prob(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:
            noise = torch.rand_like(x) if self.training else torch.full_like(x, 0.5)
        s, pre = self.preprocess(x, noise)
        z, logdet = self.transform(s)  # (B, D), (B,)
        return standard_normal_log_prob(z) + logdet + pre  # eq. (2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob(x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, *, temperature: float = 1.0) -> torch.Tensor:
        """n images in [0, 1]: x = (sigmoid(s) - a) / (1 - 2a), s = f^{-1}(T z), quantized to the L levels."""
        dev = next(self.parameters()).device
        z = temperature * torch.randn(n, math.prod(self.input_shape), generator=generator).to(dev)
        s = self.transform.inverse(z, self.input_shape)  # (n, C, H, W)
        y = ((torch.sigmoid(s) - self.alpha) / (1 - 2 * self.alpha)).clamp(0, 1 - 1e-6)
        return torch.floor(y * self.levels) / (self.levels - 1)
