"""What every meta-learning objective shares: the task loss, the inner loop on functional weights.

The inner loop (Finn et al. 2017, eq. 1) runs on a dict of tensors, never on the module's own
parameters, through ``torch.func.functional_call`` and ``torch.func.grad``:

    phi_0 = theta,    phi_{j+1} = phi_j - alpha * grad_phi L(f_{phi_j}(x_S), y_S)

With ``create_graph=True`` the gradients keep their graph, so backpropagating the query loss
L(f_{phi_k}(x_Q), y_Q) to theta includes the second-order terms (the Hessians in
d phi_k / d theta = prod_j (I - alpha H_j)); with ``create_graph=False`` each gradient is taken
at a detached copy and enters as a constant: d phi_k / d theta = I, first-order MAML.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad

Params = dict[str, torch.Tensor]


def task_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for integer labels (out: (B, N) logits), MSE for float targets (out: (B, 1))."""
    if y.is_floating_point():
        return F.mse_loss(out.reshape(y.shape), y)
    return F.cross_entropy(out, y)


def accuracy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction of argmax predictions equal to y (0-dim); NaN for regression targets."""
    if y.is_floating_point():
        return torch.tensor(float("nan"))
    return (out.argmax(-1) == y).float().mean()


def ways_of(y: torch.Tensor) -> int | None:
    """Classes in a support set labelled 0..N-1 (None for regression)."""
    return None if y.is_floating_point() else int(y.max()) + 1


def narrow(out: torch.Tensor, ways: int | None) -> torch.Tensor:
    """The logits of an episode's N ways out of the head's n_way outputs (all outputs for regression)."""
    return out if ways is None else out[:, :ways]


@dataclass
class Adapted:
    """Fast weights after an inner loop, the episode's number of ways and the steps actually taken."""

    params: Params
    ways: int | None
    steps: int


def inner_loop(
    model: nn.Module,
    params: Params,
    names: list[str],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    lr: float,
    create_graph: bool,
    deadline: float | None = None,
) -> tuple[Params, int]:
    """``steps`` SGD steps on the support loss of the parameters named in ``names`` (all of them for
    MAML, the head for ANIL); the others stay ``params``' tensors. Returns the fast weights and the
    steps taken (fewer when ``deadline``, a ``time.monotonic()`` value, passes)."""
    ways = ways_of(y)
    fast = dict(params)

    def support_loss(adaptable: Params, frozen: Params) -> torch.Tensor:
        out = functional_call(model, {**frozen, **adaptable}, (x,))
        return task_loss(narrow(out, ways), y)

    done = 0
    for _ in range(steps):
        if deadline is not None and time.monotonic() > deadline:
            break
        adaptable = {n: fast[n] for n in names}
        frozen = {n: t for n, t in fast.items() if n not in adaptable}
        if create_graph:  # second order: the gradient is a differentiable function of theta
            g = grad(support_loss)(adaptable, frozen)
        else:  # first order: the gradient at a detached copy, a constant for the outer backward
            g = grad(support_loss)(
                {n: t.detach() for n, t in adaptable.items()}, {n: t.detach() for n, t in frozen.items()}
            )
        # phi_{j+1} = phi_j - alpha * grad L_S(phi_j)   (Finn et al. 2017, eq. 1)
        fast.update({n: adaptable[n] - lr * g[n] for n in names})
        done += 1
    return fast, done


def named_params(model: nn.Module, *, detach: bool = False) -> Params:
    """The model's parameters and buffers by name (detached copies for evaluation and serving)."""
    out = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    return {n: t.detach().clone() for n, t in out.items()} if detach else out
