"""Parameter regularization: EWC, online EWC (a diagonal Fisher) and Synaptic Intelligence.

**EWC** (Kirkpatrick et al. 2017). Learning task A then B, the Bayesian posterior is
log p(theta | A, B) = log p(B | theta) + log p(theta | A) + const. The Laplace approximation of
p(theta | A) around the task-A solution theta*_A is a Gaussian with precision F_A, the Fisher
information (the expected Hessian of the negative log-likelihood at a mode), kept diagonal:

    F_i = E_{x ~ D_A} E_{c ~ p_theta(c | x)} [ (d log p_theta(c | x) / d theta_i)^2 ]        (the "true" Fisher)

computed here exactly over the active classes (no sampling) on up to ``fisher_samples`` examples.
The next tasks then minimize (Kirkpatrick et al. eq. 3, one penalty per earlier task t)

    L(theta) = L_task(theta) + lambda/2 sum_t sum_i F_{t,i} (theta_i - theta*_{t,i})^2

**Online EWC** (Schwarz et al. 2018, "Progress & Compress"; Huszar 2018) keeps one penalty: a running
Fisher F~ <- gamma F~ + F_t anchored at the latest solution, lambda/2 sum_i F~_i (theta_i - theta*_i)^2.

**SI** (Zenke et al. 2017) measures each parameter's importance along the training path instead: the
path integral of the loss decrease it caused, omega_i = -sum_steps g_i Delta theta_i (eq. 3, with g the
gradient the optimizer stepped on), normalized at the end of task t by the total displacement,

    Omega_i += omega_i / ((theta_i(t_end) - theta_i(t_start))^2 + xi)
    L = L_task + c sum_i Omega_i (theta_i - theta*_i)^2                   (theta* = theta(t_end))
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn
from torch.func import functional_call, grad, vmap

from dlzoo.data.streams import StreamBatch, StreamHeads, masked_logits
from dlzoo.families.continual.objective import FineTuneObjective, indexed, params, task_loss, unindexed
from dlzoo.paradigms import ContinualConfig
from dlzoo.protocols import Losses


def diagonal_fisher(model: nn.Module, data: StreamBatch, heads: StreamHeads, *, chunk: int = 32) -> list[torch.Tensor]:
    """The diagonal of the true Fisher, E_x sum_c p(c | x) (d log p(c | x) / d theta)^2, over ``data``'s
    examples and each one's active units; one tensor per parameter, shaped like it (``params`` order).

    A network whose trainable parameters all belong to ``nn.Linear`` layers, each applied once to a
    (B, in) input, takes the fast path (``_linear_fisher``, 32 x ``chunk`` examples a batch); any other,
    per-example gradients (``vmap``, ``chunk`` examples a call)."""
    linears = _linears_of(model)
    was_training = model.training
    model.eval()
    try:
        if linears is not None:
            try:
                return _linear_fisher(model, data, heads, chunk=chunk, linears=linears)
            except _NotPlainLinear:  # a layer reused, or fed a (B, ..., in) input: the general path
                pass
        return _vmap_fisher(model, data, heads, chunk=chunk, linears=None)
    finally:
        model.train(was_training)


class _NotPlainLinear(Exception):
    pass


def _linears_of(model: nn.Module) -> list[nn.Linear] | None:
    """The model's Linear layers when they own every trainable parameter, else None."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    owned = {id(p) for m in linears for p in m.parameters() if p.requires_grad}
    return linears if owned == {id(p) for p in params(model)} else None


def _linear_fisher(
    model: nn.Module, data: StreamBatch, heads: StreamHeads, *, chunk: int, linears: list[nn.Linear] | None
) -> list[torch.Tensor]:
    """The same diagonal, exact, without per-example gradients. A Linear layer y = W a + b gives example
    b the gradient g_W = delta_b a_b^T, g_b = delta_b (delta_b = d log p(c | x_b) / d y_b, one batched
    backward per class: the examples do not interact in eval mode), so

        sum_b p(c | x_b) g_W,b^2 = (p_c * delta^2)^T (a^2),      sum_b p(c | x_b) g_b,b^2 = sum_b p_c delta_b^2"""
    assert linears is not None
    seen: dict[nn.Linear, tuple[torch.Tensor, torch.Tensor]] = {}  # layer -> (input a, output y)

    def keep(layer: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        if layer in seen or inputs[0].ndim != 2:
            raise _NotPlainLinear(layer)
        seen[layer] = (inputs[0].detach(), out)  # type: ignore[index]

    fisher = {id(p): torch.zeros_like(p) for p in params(model)}
    hooks = [m.register_forward_hook(keep) for m in linears]
    try:
        for start in range(0, len(data), chunk * 32):
            seen.clear()
            x, task = data.x[start : start + chunk * 32], data.task[start : start + chunk * 32]
            mask = heads.mask(task)  # (B, O)
            logp = torch.log_softmax(masked_logits(model(x), mask), -1)  # (B, O), -inf on inactive units
            p = logp.detach().exp()
            layers = list(seen)
            outs = [seen[m][1] for m in layers]
            active = torch.nonzero(mask.any(0)).flatten()
            for k, c in enumerate(active):  # sum_b log p(c | x_b) over the examples where c is active
                total = torch.where(mask[:, c], logp[:, c], 0.0).sum()
                deltas = torch.autograd.grad(total, outs, retain_graph=k < len(active) - 1)
                for m, d in zip(layers, deltas, strict=True):
                    w = p[:, c, None] * d.square()  # (B, out)
                    fisher[id(m.weight)] += w.T @ seen[m][0].square()
                    if m.bias is not None and m.bias.requires_grad:
                        fisher[id(m.bias)] += w.sum(0)
    finally:
        for h in hooks:
            h.remove()
    return [fisher[id(q)] / len(data) for q in params(model)]


def _vmap_fisher(
    model: nn.Module, data: StreamBatch, heads: StreamHeads, *, chunk: int, linears: list[nn.Linear] | None
) -> list[torch.Tensor]:
    """The diagonal from per-example gradients, ``chunk`` examples at a time (any network)."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    theta = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}

    def log_prob(
        weights: dict[str, torch.Tensor], x: torch.Tensor, mask: torch.Tensor, c: torch.Tensor
    ) -> torch.Tensor:
        logits = functional_call(model, weights, (x[None],))[0]  # (O,)
        return torch.log_softmax(masked_logits(logits, mask), -1)[c]  # log p(c | x), a scalar

    per_example = vmap(grad(log_prob), in_dims=(None, 0, 0, None))  # d log p(c | x_b) / d theta, (B, *shape)
    fisher = {n: torch.zeros_like(t) for n, t in theta.items()}
    for start in range(0, len(data), chunk):
        x, task = data.x[start : start + chunk], data.task[start : start + chunk]
        mask = heads.mask(task)  # (B, O)
        with torch.no_grad():
            p = masked_logits(model(x), mask).softmax(-1)  # (B, O), zero on inactive units
        for c in torch.nonzero(mask.any(0)).flatten():
            g = per_example(theta, x, mask, c)
            for n in names:  # sum_b p(c | x_b) g_b^2
                w = p[:, c].reshape(-1, *[1] * (g[n].ndim - 1))
                fisher[n] += (w * g[n].square()).sum(0)
    return [fisher[n] / len(data) for n in names]


class EWCConfig(ContinualConfig):
    ewc_lambda: float = Field(1e4, ge=0, description="lambda: the weight of the quadratic penalty")
    fisher_samples: int | None = Field(
        1000, ge=1, description="examples of the finished task the Fisher is averaged over (None: all)"
    )


class EWCObjective(FineTuneObjective):
    """EWC: one penalty per finished task, lambda/2 sum_i F_{t,i} (theta_i - theta*_{t,i})^2.

    The T quadratics are one: sum_t F_t (theta - theta*_t)^2 = F (theta - m)^2 + C with F = sum_t F_t,
    m = sum_t F_t theta*_t / F (the Fisher-weighted mean anchor) and C = sum_t F_t (theta*_t - m)^2,
    a constant; so a step costs one quadratic whatever the number of tasks (``_merged``, rebuilt when
    a task is consolidated). The per-task Fishers and anchors stay the state (the checkpoint)."""

    Config = EWCConfig

    def __init__(self, cfg: EWCConfig) -> None:
        self.cfg = cfg
        self.fishers: list[list[torch.Tensor]] = []  # per finished task, per parameter
        self.anchors: list[list[torch.Tensor]] = []  # theta*_t
        self._cache: tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor] | None = None

    def _merged(self) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """(F, m, C) of the docstring, per parameter (C summed over every parameter)."""
        if self._cache is None:
            total = [torch.stack(fs).sum(0) for fs in zip(*self.fishers, strict=True)]
            weighted = [
                sum(f * a for f, a in zip(fs, an, strict=True))
                for fs, an in zip(zip(*self.fishers, strict=True), zip(*self.anchors, strict=True), strict=True)
            ]
            mean = [torch.where(f > 0, w / f, 0.0) for f, w in zip(total, weighted, strict=True)]
            const = sum(
                (f * (a - m).square()).sum()
                for fs, an in zip(self.fishers, self.anchors, strict=True)
                for f, a, m in zip(fs, an, mean, strict=True)
            )
            self._cache = (total, mean, torch.as_tensor(const))
        return self._cache

    def penalty(self, model: nn.Module) -> torch.Tensor:
        theta = params(model)
        if not self.fishers:
            return theta[0].new_zeros(())
        total, mean, const = self._merged()
        quad = sum((f * (p - m).square()).sum() for f, p, m in zip(total, theta, mean, strict=True))
        return 0.5 * self.cfg.ewc_lambda * (quad + const.to(theta[0]))

    def loss(self, model: nn.Module, batch: StreamBatch, heads: StreamHeads) -> Losses:
        task, penalty = task_loss(model, batch, heads), self.penalty(model)
        return task + penalty, {"task_loss": task.detach(), "penalty": penalty.detach()}

    def fisher_of(self, model: nn.Module, task_data: StreamBatch, heads: StreamHeads) -> list[torch.Tensor]:
        n = self.cfg.fisher_samples
        if n is not None and n < len(task_data):  # a fixed subset: the first n of a seeded permutation
            idx = torch.randperm(len(task_data), generator=torch.Generator().manual_seed(len(self.fishers)))[:n]
            task_data = StreamBatch(task_data.x[idx], task_data.y[idx], task_data.task[idx])
        return diagonal_fisher(model, task_data, heads)

    def consolidate(self, model: nn.Module, task_data: StreamBatch, heads: StreamHeads) -> None:
        self.fishers.append(self.fisher_of(model, task_data, heads))
        self.anchors.append([p.detach().clone() for p in params(model)])
        self._cache = None

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"tasks": torch.tensor(len(self.fishers))}
        for t, (f, a) in enumerate(zip(self.fishers, self.anchors, strict=True)):
            state.update(indexed(f"fisher{t}", f) | indexed(f"anchor{t}", a))
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        tasks = int(state["tasks"])
        self.fishers = [unindexed(f"fisher{t}", state) for t in range(tasks)]
        self.anchors = [unindexed(f"anchor{t}", state) for t in range(tasks)]
        self._cache = None


class OnlineEWCConfig(EWCConfig):
    gamma: float = Field(1.0, ge=0, le=1, description="decay of the running Fisher, F~ <- gamma F~ + F_t")


class OnlineEWCObjective(EWCObjective):
    """Online EWC: one running Fisher F~ <- gamma F~ + F_t, anchored at the latest task's solution."""

    Config = OnlineEWCConfig

    def consolidate(self, model: nn.Module, task_data: StreamBatch, heads: StreamHeads) -> None:
        new = self.fisher_of(model, task_data, heads)
        if self.fishers:
            new = [self.cfg.gamma * old + f for old, f in zip(self.fishers[0], new, strict=True)]
        self.fishers = [new]
        self.anchors = [[p.detach().clone() for p in params(model)]]
        self._cache = None


class SIConfig(ContinualConfig):
    si_c: float = Field(1.0, ge=0, description="c: the weight of the surrogate loss")
    si_epsilon: float = Field(0.1, gt=0, description="xi: damping of the displacement in Omega's denominator")


class SIObjective(FineTuneObjective):
    """Synaptic Intelligence: importance from the path integral of the gradient along the trajectory."""

    Config = SIConfig

    def __init__(self, cfg: SIConfig) -> None:
        self.cfg = cfg
        self.omega: list[torch.Tensor] = []  # running path integral of the current task, per parameter
        self.importance: list[torch.Tensor] = []  # Omega, summed over finished tasks
        self.anchor: list[torch.Tensor] = []  # theta at the start of the current task (= end of the last)
        self._before: list[torch.Tensor] = []  # theta before the current optimizer step (within a step)

    def _start(self, model: nn.Module) -> None:
        if not self.anchor:  # the first step of the stream
            self.anchor = [p.detach().clone() for p in params(model)]
            self.omega = [torch.zeros_like(p) for p in self.anchor]
            self.importance = [torch.zeros_like(p) for p in self.anchor]

    def loss(self, model: nn.Module, batch: StreamBatch, heads: StreamHeads) -> Losses:
        self._start(model)
        task = task_loss(model, batch, heads)
        theta = params(model)
        # c sum_i Omega_i (theta_i - theta*_i)^2   (Zenke et al. 2017, eq. 4)
        penalty = self.cfg.si_c * sum(
            (o * (p - a).square()).sum() for o, p, a in zip(self.importance, theta, self.anchor, strict=True)
        )
        return task + penalty, {"task_loss": task.detach(), "penalty": penalty.detach()}

    def before_update(self, model: nn.Module, batch: StreamBatch, heads: StreamHeads) -> dict[str, Any]:
        self._before = [p.detach().clone() for p in params(model)]
        return {}

    def after_update(self, model: nn.Module, batch: StreamBatch) -> None:
        for w, p, before in zip(self.omega, params(model), self._before, strict=True):
            if p.grad is not None:  # omega_i += -g_i (theta_i(new) - theta_i(old))
                w -= p.grad.detach() * (p.detach() - before)

    def consolidate(self, model: nn.Module, task_data: StreamBatch, heads: StreamHeads) -> None:
        self._start(model)
        theta = [p.detach().clone() for p in params(model)]
        for k, (w, p, a) in enumerate(zip(self.omega, theta, self.anchor, strict=True)):
            self.importance[k] = self.importance[k] + w / ((p - a).square() + self.cfg.si_epsilon)
        self.anchor, self.omega = theta, [torch.zeros_like(p) for p in theta]

    def state_dict(self) -> dict[str, Any]:
        return indexed("omega", self.omega) | indexed("importance", self.importance) | indexed("anchor", self.anchor)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.omega, self.importance = unindexed("omega", state), unindexed("importance", state)
        self.anchor = unindexed("anchor", state)
