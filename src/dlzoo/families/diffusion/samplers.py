"""Samplers (no weights): from noise x_{T-1} ~ N(0, I) to data, chosen by name at sampling time.

Each sampler is a generator: it yields the number of denoising steps done so far after each step and
returns the samples in model space (``run`` drains it; the pipeline streams the progress).

- ``ddpm``: ancestral sampling (Ho et al. 2020, Alg. 2), x_{s} ~ q(x_s | x_t, x0^) with
  x0^ = (x_t - sqrt(1 - abar_t) eps^) / sqrt(abar_t); with fewer steps than T, on a strided chain
  (Nichol & Dhariwal 2021, Sec. 4): :func:`ddpm_step`.
- ``ddim``: Song et al. 2021a, eq. 12, with sigma_t(eta) of eq. 16 (eta = 0 deterministic, eta = 1
  the ancestral sampler's variance): :func:`ddim_step`.
- ``euler_maruyama``: the reverse-time VP SDE (Song et al. 2021b, eq. 6), score = -eps^ / sqrt(1 - abar):
  dx = [-1/2 beta x - beta score] ds + sqrt(beta) dW-bar, s from T-1 down to 0.
- ``heun``: the probability-flow ODE (Song et al. 2021b, eq. 13) dx/ds = -1/2 beta(s) (x + score),
  integrated by Heun's method (2nd order, Karras et al. 2022 Alg. 1).

Timesteps: ``steps`` indices spaced evenly from T-1 down to 0 ("trailing": the first step is at T-1).
The SDE / ODE samplers end with Tweedie's denoising step x0^ at s = 0. Classifier-free guidance (Ho &
Salimans 2022, eq. 6): eps~ = eps(x, null) + w (eps(x, y) - eps(x, null)); w = 1 is plain conditional.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import torch

from dlzoo.registry import RegistryError, choices_error

SAMPLERS = ("ddpm", "ddim", "euler_maruyama", "heun")


def check_sampler(name: str) -> None:
    if name not in SAMPLERS:
        raise RegistryError(choices_error("sampler", name, SAMPLERS))


def ddpm_step(
    eps: torch.Tensor, x: torch.Tensor, a_t: torch.Tensor, a_s: torch.Tensor, noise: torch.Tensor | None, *, clip: bool
) -> torch.Tensor:
    """x_s ~ q(x_s | x_t, x0^) with beta = 1 - abar_t / abar_s, the posterior's "fixed small" variance;
    a_t, a_s: abar at t and at s < t (1 at the end), broadcastable to x; noise None: the mean."""
    x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    if clip:
        x0 = x0.clamp(-1, 1)
    beta = 1 - a_t / a_s
    mean = a_s.sqrt() * beta / (1 - a_t) * x0 + (1 - beta).sqrt() * (1 - a_s) / (1 - a_t) * x
    if noise is None:
        return mean
    var = (1 - a_s) / (1 - a_t) * beta
    return mean + var.clamp(min=1e-20).sqrt() * noise


def ddim_step(
    eps: torch.Tensor,
    x: torch.Tensor,
    a_t: torch.Tensor,
    a_s: torch.Tensor,
    noise: torch.Tensor | None,
    *,
    eta: float,
    clip: bool,
) -> torch.Tensor:
    """Song et al. 2021a, eq. 12: x_s = sqrt(a_s) x0^ + sqrt(1 - a_s - sigma^2) eps^ + sigma z, with
    sigma = eta sqrt((1 - a_s) / (1 - a_t)) sqrt(1 - a_t / a_s) (eq. 16)."""
    x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    if clip:
        x0 = x0.clamp(-1, 1)
        eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()  # re-derived from the clipped x0, as diffusers does
    sigma = eta * ((1 - a_s) / (1 - a_t) * (1 - a_t / a_s)).sqrt()
    out = a_s.sqrt() * x0 + (1 - a_s - sigma**2).clamp(min=0).sqrt() * eps
    return out if noise is None or eta == 0 else out + sigma * noise


def timesteps(T: int, steps: int) -> list[int]:
    """``steps`` distinct indices from T-1 down to 0, evenly spaced (rounded)."""
    if not 1 <= steps <= T:
        raise RegistryError(f"steps must be between 1 and T = {T}, got {steps}")
    if steps == 1:
        return [T - 1]
    return sorted({round(T - 1 - i * (T - 1) / (steps - 1)) for i in range(steps)}, reverse=True)


EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x (B, ...), t (B,) float) -> eps (B, ...)


def run_sampler(
    name: str,
    eps_fn: EpsFn,
    schedule,
    x: torch.Tensor,
    *,
    steps: int,
    eta: float = 0.0,
    clip: bool = False,
    generator: torch.Generator | None = None,
) -> Generator[int, None, torch.Tensor]:
    """Denoise x (B, ...) ~ N(0, I) with the named sampler; yields steps done, returns x0 in model space."""
    check_sampler(name)
    shape = (-1,) + (1,) * (x.ndim - 1)

    def randn() -> torch.Tensor:
        return torch.randn(x.shape, generator=generator).to(x)

    if name in ("ddpm", "ddim"):
        ts = timesteps(schedule.T, steps)
        for i, t in enumerate(ts):
            s = ts[i + 1] if i + 1 < len(ts) else -1
            a_t = schedule.abar[t].to(x.dtype)
            a_s = schedule.abar[s].to(x.dtype) if s >= 0 else torch.ones((), dtype=x.dtype)
            eps = eps_fn(x, torch.full((len(x),), float(t), device=x.device))
            last = s < 0
            if name == "ddpm":
                x = ddpm_step(eps, x, a_t.to(x.device), a_s.to(x.device), None if last else randn(), clip=clip)
            else:
                x = ddim_step(eps, x, a_t.to(x.device), a_s.to(x.device), None if last else randn(), eta=eta, clip=clip)
            yield i + 1
        return x
    # continuous time: s from T-1 down to 0 in `steps` equal steps, then Tweedie's x0^ at s = 0
    grid = torch.linspace(schedule.T - 1, 0, steps + 1, dtype=torch.float64)

    def drift(x: torch.Tensor, s: float, *, ode: bool) -> torch.Tensor:
        """f(x, s) - g^2 score (SDE) or f - 1/2 g^2 score (ODE), per unit of s (forward-time drift)."""
        st = torch.full((len(x),), s, dtype=torch.float64)
        a, beta = schedule.abar_cont(st).to(x).view(shape), schedule.beta_cont(st).to(x).view(shape)
        score = -eps_fn(x, st.to(x)) / (1 - a).sqrt()
        return -0.5 * beta * x - (0.5 if ode else 1.0) * beta * score

    for i in range(steps):
        s, s_next = float(grid[i]), float(grid[i + 1])
        h = s_next - s  # negative: time runs backwards
        if name == "euler_maruyama":
            beta = schedule.beta_cont(torch.tensor([s])).to(x)
            x = x + drift(x, s, ode=False) * h + (beta * -h).sqrt() * randn()
        else:  # heun on the probability-flow ODE
            d = drift(x, s, ode=True)
            x_e = x + d * h
            x = x + 0.5 * (d + drift(x_e, s_next, ode=True)) * h
        yield i + 1
    a0 = schedule.abar_cont(torch.zeros(1)).to(x)
    x0 = (x - (1 - a0).sqrt() * eps_fn(x, torch.zeros(len(x), device=x.device))) / a0.sqrt()
    return x0.clamp(-1, 1) if clip else x0


def drain(gen: Generator[int, None, torch.Tensor]) -> torch.Tensor:
    """Run a sampler generator to its end and return its result."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def guided_eps(model, y: torch.Tensor | None, guidance: float) -> EpsFn:
    """eps(x, t) of a Diffusion module (its output converted to eps), with classifier-free guidance when
    labels are given: eps(x, null) + w (eps(x, y) - eps(x, null)) in one batched call."""
    sched = model.schedule

    def eps_of(out: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = sched.abar_cont(t.double().cpu()).to(x).view((-1,) + (1,) * (x.ndim - 1))
        return sched.to_eps_x0(out, x, a, model.prediction)[0]

    def fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.to(x)
        if y is None:
            return eps_of(model(x, t), x, t)
        if guidance == 1.0:
            return eps_of(model(x, t, y), x, t)
        null = torch.full_like(y, model.num_classes)
        out = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null]))
        cond, uncond = eps_of(out, torch.cat([x, x]), torch.cat([t, t])).chunk(2)
        return uncond + guidance * (cond - uncond)

    return fn


def generate(
    model,
    n: int,
    *,
    sampler: str = "ddpm",
    steps: int | None = None,
    eta: float = 0.0,
    guidance: float = 1.0,
    labels: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Generator[int, None, torch.Tensor]:
    """A sampler generator for a Diffusion module in eval mode: yields steps done, returns n samples in
    data space (n, *input_shape). ``labels`` (n,) long for a class-conditional model (None: unconditional)."""
    check_sampler(sampler)
    dev = next(model.parameters()).device
    x = torch.randn((n, *model.input_shape), generator=generator).to(dev)
    y = None if labels is None else labels.to(dev)
    gen = run_sampler(
        sampler,
        guided_eps(model, y, guidance),
        model.schedule,
        x,
        steps=steps or model.T,
        eta=eta,
        clip=model.is_image,
        generator=generator,
    )
    z = yield from gen
    return model.decode(z)
