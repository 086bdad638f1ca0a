"""Restricted Boltzmann machines: Bernoulli-Bernoulli and Gaussian-Bernoulli (unit variance).

Smolensky (1986), Hinton (2002), Hinton's practical guide (2010). With visible units v (D,), hidden
units h in {0, 1}^H, weights W (H, D), visible bias b (D,) and hidden bias c (H,):

    Bernoulli visible units, v in {0, 1}^D:
        E(v, h) = -b^T v - c^T h - h^T W v
        F(v)    = -log sum_h exp(-E(v, h)) = -b^T v - sum_j softplus(c_j + W_j v)
        p(h_j = 1 | v) = sigmoid(c_j + W_j v)        p(v_i = 1 | h) = sigmoid(b_i + W_:i^T h)

    Gaussian visible units (unit variance, data standardized), v in R^D:
        E(v, h) = ||v - b||^2 / 2 - c^T h - h^T W v
        F(v)    = ||v - b||^2 / 2 - sum_j softplus(c_j + W_j v)
        p(h_j = 1 | v) = sigmoid(c_j + W_j v)        p(v | h) = N(b + W^T h, I)

Gaussian units see standardized data z = (v - mean) / std (``dlzoo.layers.Standardize``, fitted on the
train split and saved with the weights): every method takes and returns raw v; the energies above
are of z, and log p(v) = log p(z) - sum_i log std_i (``log_jacobian``).

p(v) = exp(-F(v)) / Z. ``forward`` is the free energy, so training losses, export and the contract
tests all go through one differentiable function; sampling is block Gibbs (h | v, then v | h).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dlzoo.layers import DataInit, Standardize

VISIBLE = ("bernoulli", "gaussian")
INIT_VISIBLE = ("base_rate", "zero")


def bernoulli(p: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Binary draws with P(1) = p, as ``u < p`` for u ~ U(0, 1): the same law as ``torch.bernoulli``
    at about half its CPU time (torch's tensor-probability Bernoulli is not vectorized), which is most
    of a small RBM's CD step and of AIS."""
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return torch.lt(u, p, out=u)  # 1.0 / 0.0 written over u: no boolean temporary and cast


def base_rate_bias(x: torch.Tensor, *, pseudo_count: float = 0.5) -> torch.Tensor:
    """b_A = logit(p_i) with p_i the pixel means of binary data x (N, ...), smoothed: (D,) float64.

    The visible biases of the independent-pixel model: AIS's base-rate model (partition.py) and the
    Bernoulli RBM's starting visible bias (Hinton 2010, Sec. 8)."""
    x = x.reshape(len(x), -1).double()
    p = (x.sum(0) + pseudo_count) / (len(x) + 2 * pseudo_count)  # (D,)
    return torch.log(p) - torch.log1p(-p)


class RBM(nn.Module, DataInit):
    """A restricted Boltzmann machine whose forward is the free energy F(v) (B,).

    Args:
        input_shape: shape of one example (flattened to D visible units).
        n_hidden: H, the number of binary hidden units.
        visible: "bernoulli" (binary pixels) | "gaussian" (real values, unit variance).
        init_std: std of the initial weights (Hinton 2010: 0.01).
        init_visible: Bernoulli units' starting visible bias: "base_rate", logit of the training pixel
            means (Hinton 2010, Sec. 8; set by ``init_from_data`` before training), or "zero".

    Shapes:
        forward: v (B, *input_shape) -> F(v) (B,)
    """

    def __init__(
        self,
        *,
        input_shape: tuple[int, ...],
        n_hidden: int,
        visible: str = "bernoulli",
        init_std: float = 0.01,
        init_visible: str = "base_rate",
    ):
        super().__init__()
        if visible not in VISIBLE:
            raise ValueError(f"unknown visible unit type {visible!r}; valid: {', '.join(VISIBLE)}")
        if init_visible not in INIT_VISIBLE:
            raise ValueError(f"unknown init_visible {init_visible!r}; valid: {', '.join(INIT_VISIBLE)}")
        if n_hidden < 1:
            raise ValueError(f"n_hidden must be >= 1, got {n_hidden}")
        self.input_shape, self.visible, self.init_visible = tuple(input_shape), visible, init_visible
        self.n_visible, self.n_hidden = math.prod(self.input_shape), n_hidden
        self.W = nn.Parameter(init_std * torch.randn(n_hidden, self.n_visible))  # (H, D)
        self.b = nn.Parameter(torch.zeros(self.n_visible))  # (D,) visible bias
        self.c = nn.Parameter(torch.zeros(n_hidden))  # (H,) hidden bias
        self.standardize = Standardize(self.n_visible) if visible == "gaussian" else None

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Bernoulli units with ``init_visible="base_rate"``: b = logit(training pixel means), so the
        untrained model is the independent-pixel model (the rest of the biases and W as constructed)."""
        if self.visible == "bernoulli" and self.init_visible == "base_rate":
            self.b.copy_(base_rate_bias(x).to(self.b.dtype))  # base_rate_bias flattens

    # -- the energy and its marginal -------------------------------------------------------------
    def flat(self, v: torch.Tensor) -> torch.Tensor:
        """Raw inputs (B, ...) -> the visible units (B, D): flattened, standardized if Gaussian."""
        v = v.flatten(1)  # (B, D)
        return self.standardize(v) if self.standardize is not None else v

    def raw(self, z: torch.Tensor) -> torch.Tensor:
        """Visible units (B, D) -> raw inputs (B, D) (undo the standardization)."""
        return self.standardize.inverse(z) if self.standardize is not None else z

    def log_jacobian(self) -> float:
        """log |dz/dv| = -sum_i log std_i: add to log p(z) to get log p(v) (0 for Bernoulli units)."""
        return 0.0 if self.standardize is None else -float(self.standardize.std.double().log().sum())

    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """E(v, h) of joint configurations: (B, D), (B, H) -> (B,)."""
        v = self.flat(v)
        coupling = ((h @ self.W) * v).sum(-1)  # h^T W v, (B,)
        visible = 0.5 * (v - self.b).pow(2).sum(-1) if self.visible == "gaussian" else -(v @ self.b)
        return visible - h @ self.c - coupling

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = visible term - sum_j softplus(c_j + W_j v): (B, *input_shape) -> (B,)."""
        v = self.flat(v)  # (B, D)
        hidden = F.softplus(torch.addmm(self.c, v, self.W.T)).sum(-1)  # (B,) c + W v in one BLAS call
        visible = 0.5 * (v - self.b).pow(2).sum(-1) if self.visible == "gaussian" else -(v @ self.b)
        return visible - hidden

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.free_energy(v)

    # -- conditionals and block Gibbs --------------------------------------------------------------
    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        """p(h_j = 1 | v) = sigmoid(c_j + W_j v): (B, ...) -> (B, H)."""
        return torch.sigmoid(torch.addmm(self.c, self.flat(v), self.W.T))

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        """E[v | h], raw: sigmoid(b + W^T h) (Bernoulli) or b + W^T h (Gaussian, z-space): (B, H) -> (B, D)."""
        pre = h @ self.W + self.b  # (B, D)
        return torch.sigmoid(pre) if self.visible == "bernoulli" else self.raw(pre)

    def sample_hidden(self, v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return bernoulli(self.hidden_probs(v), generator)  # (B, H)

    def sample_visible(self, h: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """v ~ p(v | h), raw: (B, H) -> (B, D)."""
        pre = torch.addmm(self.b, h, self.W)  # (B, D) b + W^T h
        if self.visible == "bernoulli":
            return bernoulli(torch.sigmoid(pre), generator)
        return self.raw(pre + torch.randn(pre.shape, generator=generator, device=pre.device, dtype=pre.dtype))

    def gibbs(self, v: torch.Tensor, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``steps`` block Gibbs sweeps v -> h ~ p(h|v) -> v ~ p(v|h): (B, D) -> (B, D)."""
        for _ in range(steps):
            v = self.sample_visible(self.sample_hidden(v, generator), generator)
        return v

    def reconstruct(self, v: torch.Tensor) -> torch.Tensor:
        """Mean-field reconstruction E[v | h = p(h|v)]: (B, *input_shape) -> (B, *input_shape)."""
        return self.visible_mean(self.hidden_probs(v)).reshape(-1, *self.input_shape)
