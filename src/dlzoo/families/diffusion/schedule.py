"""Noise schedules and the closed forms of the forward process: no weights, only formulas.

Discrete forward process (Ho et al. 2020, eq. 2 and 4), t = 0..T-1, alpha_t = 1 - beta_t,
abar_t = prod_{s <= t} alpha_s:

    q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, beta_t I)
    q(x_t | x_0)     = N(sqrt(abar_t) x_0, (1 - abar_t) I)                                    (4)

Posterior (Ho et al. eq. 6-7), with abar_{-1} = 1:

    q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I)
    mu~_t    = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x_0 + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t
    beta~_t  = (1 - abar_{t-1}) / (1 - abar_t) beta_t

Betas: ``linear`` from 1e-4 to 0.02 over T = 1000 (Ho et al. Sec. 4), ``cosine`` (Nichol & Dhariwal
2021, eq. 17): abar(t) = f(t) / f(0), f(t) = cos^2((t / T + s) / (1 + s) pi / 2), s = 0.008, beta_t
clipped to 0.999.

Continuous time (Song et al. 2021b): the time index is a real s in [0, T-1] and log abar(s) is the
piecewise-linear interpolation of log abar_t, so the VP SDE dx = -1/2 beta(s) x ds + sqrt(beta(s)) dW has
beta(s) = -d log abar / ds = -log(1 - beta_ceil(s)) and exactly the discrete marginals at integer s.
"""

from __future__ import annotations

import math

import torch

from dlzoo.registry import RegistryError, choices_error

SCHEDULES = ("linear", "cosine")


def make_betas(name: str, timesteps: int, *, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """beta_t, t = 0..T-1, float64 (T,). ``linear``: Ho et al. 2020 (scaled by 1000 / T so that any T
    keeps the same abar_T); ``cosine``: Nichol & Dhariwal 2021, eq. 17."""
    if name not in SCHEDULES:
        raise RegistryError(choices_error("schedule", name, SCHEDULES))
    if timesteps < 2:
        raise RegistryError(f"timesteps must be >= 2, got {timesteps}")
    if name == "linear":
        scale = 1000 / timesteps
        return torch.linspace(scale * beta_start, scale * beta_end, timesteps, dtype=torch.float64)
    s = 0.008
    steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2  # (T + 1,)
    abar = f / f[0]
    return (1 - abar[1:] / abar[:-1]).clamp(max=0.999)


class NoiseSchedule:
    """abar and the posterior coefficients of one beta schedule, float64 on CPU (moved per call)."""

    def __init__(self, betas: torch.Tensor) -> None:
        self.betas = betas.double()  # (T,)
        self.T = len(betas)
        self.alphas = 1 - self.betas
        self.abar = torch.cumprod(self.alphas, 0)  # (T,)
        self.abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.abar[:-1]])  # abar_{t-1}, abar_{-1} = 1
        self.log_abar = self.abar.log()

    # -- discrete closed forms --------------------------------------------------------------------
    def abar_at(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """abar_t (t: (B,) long; t = -1 gives 1) shaped (B, 1, ...) like ``like``."""
        a = torch.where(t >= 0, self.abar.to(t.device)[t.clamp(min=0)], torch.ones((), dtype=torch.float64))
        return a.to(like.dtype).view(-1, *([1] * (like.ndim - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps  (eq. 4); x0, noise (B, ...), t (B,) long."""
        a = self.abar_at(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def q_step(self, x_prev: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """One forward step x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) eps (eq. 2)."""
        b = self.betas.to(t.device)[t].to(x_prev.dtype).view(-1, *([1] * (x_prev.ndim - 1)))
        return (1 - b).sqrt() * x_prev + b.sqrt() * noise

    def posterior(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu~_t, beta~_t) of q(x_{t-1} | x_t, x_0) (eq. 6-7); beta~ shaped (B, 1, ...)."""
        return self.posterior_between(x0, xt, t, t - 1)

    def posterior_between(
        self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor, t_prev: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """q(x_s | x_t, x_0) for s = t_prev < t (a strided chain, Nichol & Dhariwal 2021 Sec. 4): with
        beta = 1 - abar_t / abar_s it is eq. 6-7 with (alpha_t, beta_t, abar_{t-1}) -> (1 - beta, beta, abar_s)."""
        a_t, a_s = self.abar_at(t, xt), self.abar_at(t_prev, xt)
        beta = 1 - a_t / a_s
        mean = a_s.sqrt() * beta / (1 - a_t) * x0 + (1 - beta).sqrt() * (1 - a_s) / (1 - a_t) * xt
        var = (1 - a_s) / (1 - a_t) * beta
        return mean, var

    # -- the three parametrisations of the network's output ----------------------------------------
    def to_eps_x0(
        self, out: torch.Tensor, xt: torch.Tensor, a: torch.Tensor, prediction: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(eps, x0) from the network output: eps, x0, or v = sqrt(abar) eps - sqrt(1 - abar) x0
        (Salimans & Ho 2022); ``a`` = abar shaped like xt, x_t = sqrt(a) x0 + sqrt(1 - a) eps."""
        sa, s1 = a.sqrt(), (1 - a).sqrt()
        if prediction == "eps":
            return out, (xt - s1 * out) / sa
        if prediction == "x0":
            return (xt - sa * out) / s1, out
        x0 = sa * xt - s1 * out  # v
        return s1 * xt + sa * out, x0

    @staticmethod
    def target(prediction: str, x0: torch.Tensor, noise: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """What the network regresses: eps, x0, or v = sqrt(abar) eps - sqrt(1 - abar) x0."""
        if prediction == "eps":
            return noise
        if prediction == "x0":
            return x0
        return a.sqrt() * noise - (1 - a).sqrt() * x0

    # -- continuous time s in [0, T-1] (the SDE / ODE samplers and the likelihood) ----------------
    def abar_cont(self, s: torch.Tensor) -> torch.Tensor:
        """abar(s): log abar interpolated linearly between integer indices, s float (B,) or scalar."""
        s = s.double().clamp(0, self.T - 1)
        lo = s.floor().long().clamp(max=self.T - 2)
        w = s - lo
        log_a = self.log_abar.to(s.device)
        return ((1 - w) * log_a[lo] + w * log_a[lo + 1]).exp()

    def beta_cont(self, s: torch.Tensor) -> torch.Tensor:
        """beta(s) = -d log abar / ds = -log(1 - beta_ceil(s)) (per unit of the index s)."""
        s = s.double().clamp(0, self.T - 1)
        hi = s.ceil().long().clamp(min=1)
        return -torch.log1p(-self.betas.to(s.device)[hi])
