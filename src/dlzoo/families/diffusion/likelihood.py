"""Exact likelihood through the probability-flow ODE (Song et al. 2021b, Sec. 4.3 and App. D.2).

With the ODE dx/ds = f~(x, s) = -1/2 beta(s) (x - eps^(x, s) / sqrt(1 - abar(s))) (samplers.py) and
the instantaneous change of variables (Chen et al. 2018, Thm. 1), d log p_s(x(s)) / ds = -div f~:

    log p_0(x(0)) = log N(x(S); 0, I) + int_0^S div f~(x(s), s) ds,      S = T-1              (1)

integrated jointly with x by fixed-step RK4 (``steps`` steps). The divergence is exact (one backward
pass per dimension) for small D, else Hutchinson's estimator E_v[v^T (df~/dx) v], v Rademacher, one v
per example for the whole path (Grathwohl et al. 2019). s = 0 is the first noise level (sigma_0 =
sqrt(beta_0), 0.01 for the linear schedule), so (1) is the density of the data with that much noise.

Data space (``nll_data``): vectors add log|dz/dx| of the standardization. Images of L levels in [0, 1]
are dequantized like the flow family: y = (x (L - 1) + u) / L, u ~ U[0, 1)^D, z = 2 y - 1, and

    -log P(x) <= -log p_z(z) - D log 2 + D log L       (Theis et al. 2016; nats; / (D ln 2): bits/dim)
"""

from __future__ import annotations

import math

import torch

from dlzoo.families.diffusion.samplers import guided_eps

EXACT_TRACE_MAX_DIM = 8


def ode_log_prob(
    model, z: torch.Tensor, *, steps: int = 100, exact: bool | None = None, generator: torch.Generator | None = None
) -> torch.Tensor:
    """log p_0(z) in model space by eq. (1), nats (B,); z (B, *shape). The model answers in its current mode."""
    sched, dim = model.schedule, math.prod(z.shape[1:])
    exact = dim <= EXACT_TRACE_MAX_DIM if exact is None else exact
    eps_fn = guided_eps(model, None, 1.0)
    view = (-1,) + (1,) * (z.ndim - 1)
    v = None if exact else (torch.randint(0, 2, z.shape, generator=generator).to(z) * 2 - 1)

    def f_and_div(x: torch.Tensor, s: float) -> tuple[torch.Tensor, torch.Tensor]:
        st = torch.full((len(x),), s, dtype=torch.float64)
        a, beta = sched.abar_cont(st).to(x).view(view), sched.beta_cont(st).to(x).view(view)
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            f = -0.5 * beta * (x - eps_fn(x, st.to(x)) / (1 - a).sqrt())
            if exact:
                flat = f.reshape(len(x), -1)
                div = sum(
                    torch.autograd.grad(flat[:, i].sum(), x, retain_graph=i < dim - 1)[0].reshape(len(x), -1)[:, i]
                    for i in range(dim)
                )
            else:
                (g,) = torch.autograd.grad((f * v).sum(), x)
                div = (g * v).reshape(len(x), -1).sum(1)
        return f.detach(), div.detach()

    grid = torch.linspace(0, sched.T - 1, steps + 1, dtype=torch.float64).tolist()
    x, integral = z, torch.zeros(len(z), dtype=z.dtype, device=z.device)
    for s, s_next in zip(grid[:-1], grid[1:], strict=True):  # RK4 on (x, int div)
        h = s_next - s
        k1, d1 = f_and_div(x, s)
        k2, d2 = f_and_div(x + 0.5 * h * k1, s + 0.5 * h)
        k3, d3 = f_and_div(x + 0.5 * h * k2, s + 0.5 * h)
        k4, d4 = f_and_div(x + h * k3, s_next)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        integral = integral + h / 6 * (d1 + 2 * d2 + 2 * d3 + d4)
    prior = -0.5 * (x.reshape(len(x), -1) ** 2).sum(1) - 0.5 * dim * math.log(2 * math.pi)
    return prior + integral


def nll_data(model, x: torch.Tensor, *, steps: int = 100, generator: torch.Generator | None = None) -> torch.Tensor:
    """-log p(x) in data space, nats (B,): eq. (1) plus the standardization's or the dequantization's terms."""
    d = math.prod(x.shape[1:])
    if model.is_image:
        u = torch.rand(x.shape, generator=generator).to(x)
        y = (x * (model.levels - 1) + u) / model.levels
        z = 2 * y - 1
        return -ode_log_prob(model, z, steps=steps, generator=generator) - d * math.log(2) + d * math.log(model.levels)
    z = model.encode(x)
    return -ode_log_prob(model, z, steps=steps, generator=generator) - model.log_det_encode()
