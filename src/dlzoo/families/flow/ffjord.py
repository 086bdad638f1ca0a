"""FFJORD (Grathwohl et al. 2019): a continuous normalizing flow, a neural ODE with a trace estimator.

The data x = x(0) flows to z = x(1) along dx/dt = f(x, t) (Chen et al. 2018), and the log-density
changes by the trace of the Jacobian (instantaneous change of variables, Chen et al. Thm. 1):

    d log p(x(t)) / dt = -tr(df/dx(t))  =>  log p_X(x) = log N(z; 0, I) + int_0^1 tr(df/dx(t)) dt   (FFJORD eq. 4)

Training uses Hutchinson's unbiased estimator tr(A) = E_eps[eps^T A eps], eps ~ N(0, I), with
eps^T (df/dx) from one vector-Jacobian product (FFJORD eq. 7; one eps per solve). Evaluation (and
the exported graph) uses the exact trace: the MLP's Jacobian is propagated layer by layer
(J <- diag(sigma'(a)) W J), cheap for the 2-D sets. torchdiffeq's ``odeint`` integrates the
augmented state (x, int tr) with a fixed-step solver (rk4 by default), which keeps the cost of a step
known and the graph exportable; ``dopri5`` (adaptive, the paper's solver) is a setting.
"""

from __future__ import annotations

import torch
from torch import nn


class ODENet(nn.Module):
    """f(x, t): an MLP on [x, t] with tanh activations. Shapes: x (B, D), t () -> (B, D)."""

    def __init__(self, features: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        widths = [features + 1, *hidden, features]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x, t.expand(x.shape[0], 1)], dim=1)  # (B, D + 1)
        for layer in self.layers[:-1]:
            h = torch.tanh(layer(h))
        return self.layers[-1](h)

    def with_exact_trace(self, t: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """f(x, t) and tr(df/dx) exactly, by forward-mode propagation of J = dh/dx: (B, D), (B,)."""
        d = x.shape[1]
        h = torch.cat([x, t.expand(x.shape[0], 1)], dim=1)
        jac = self.layers[0].weight[:, :d].unsqueeze(0)  # (1, H1, D): d(W h)/dx for the first layer
        for i, layer in enumerate(self.layers):
            a = layer(h)  # (B, H)
            if i > 0:
                jac = layer.weight @ jac  # (B, H, D)
            if i == len(self.layers) - 1:
                return a, torch.diagonal(jac, dim1=1, dim2=2).sum(-1)
            h = torch.tanh(a)
            jac = (1 - h.pow(2)).unsqueeze(-1) * jac  # tanh' = 1 - tanh^2
        raise AssertionError("unreachable")


class AugmentedDynamics(nn.Module):
    """d/dt [x, a] = [f(x, t), tr(df/dx)] on one (B, D + 1) state, the trace exact or Hutchinson's estimate
    with the noise ``eps`` of the current solve (one tensor state keeps the exported graph free of
    torchdiffeq's tuple packing)."""

    def __init__(self, net: ODENet) -> None:
        super().__init__()
        self.net = net
        self.eps: torch.Tensor | None = None  # set per solve for Hutchinson; None: exact trace

    def forward(self, t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        x = state[:, :-1]  # (B, D)
        if self.eps is None:
            dx, trace = self.net.with_exact_trace(t, x)
            return torch.cat([dx, trace.unsqueeze(1)], dim=1)
        with torch.enable_grad():
            x = x if x.requires_grad else x.requires_grad_(True)
            dx = self.net(t, x)
            (vjp,) = torch.autograd.grad(dx, x, self.eps, create_graph=True)  # eps^T df/dx, (B, D)
        return torch.cat([dx, (vjp * self.eps).sum(-1, keepdim=True)], dim=1)  # eps^T (df/dx) eps


class FFJORD(nn.Module):
    """The continuous flow as a bijection: forward(x) -> (z, int_0^1 tr dt); inverse solves back in time.

    Args:
        features: D.
        hidden: widths of f's MLP.
        solver: a torchdiffeq method; fixed-grid ones (rk4, midpoint, euler) use ``steps`` steps.
        steps: steps of a fixed-grid solver on [0, 1].
        hutchinson: estimate the trace in training (exact in eval mode either way).
    """

    def __init__(
        self, features: int, hidden: tuple[int, ...], *, solver: str = "rk4", steps: int = 8, hutchinson: bool = True
    ) -> None:
        super().__init__()
        self.dynamics = AugmentedDynamics(ODENet(features, hidden))
        self.solver, self.steps, self.hutchinson = solver, steps, hutchinson
        self.register_buffer("times", torch.tensor([0.0, 1.0]))

    def _odeint(self, func: nn.Module, state: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        from torchdiffeq import odeint

        options = {"step_size": 1.0 / self.steps} if self.solver in ("rk4", "midpoint", "euler") else None
        return odeint(func, state, times, method=self.solver, options=options, rtol=1e-5, atol=1e-5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.dynamics.eps = torch.randn_like(x) if (self.training and self.hutchinson) else None
        state = self._odeint(self.dynamics, torch.cat([x, x[:, :1] * 0], dim=1), self.times)[-1]  # (B, D + 1)
        self.dynamics.eps = None
        return state[:, :-1], state[:, -1]  # z = x(1), int_0^1 tr(df/dx) dt = log|det dz/dx|

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        state = self._odeint(self.dynamics, torch.cat([z, z[:, :1] * 0], dim=1), self.times.flip(0))[-1]
        return state[:, :-1]
