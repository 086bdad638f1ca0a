"""PackNet (Mallya & Lazebnik 2018, "PackNet: Adding Multiple Tasks to a Single Network by Iterative Pruning").

Every hidden weight has an owner (``PackNetMLP.owner<l>``): the task that kept it, or FREE. While task
t trains, the FREE weights and the task's own head are trainable, every weight owned by an earlier
task is frozen (its gradient zeroed in ``before_update``, its value restored after each step in
``after_update``, so Adam's momentum cannot move it either), and the hidden biases train on task 0
only (as in the paper). At the end of the task (``PackNetObjective.finish_task``):

1. **prune**: of the FREE weights of each layer, the fraction ``task.prune`` with the smallest
   magnitude is set to 0 and stays FREE; the others are kept and become task t's, owner = t;
2. **retrain** the kept weights alone for ``task.retrain_epochs`` epochs (the pruned ones are out of
   the network), then **freeze** them.

At inference task s runs the sub-network of its own and the earlier tasks' weights,

    W_s = W * 1[owner <= s]   (+ the FREE weights while s is the task being trained),

so task s's outputs never change once it is finished: later tasks only write FREE weights. The
binary masks need the task id: PackNet is task-IL. ``PackNetMLP.forward`` computes every task's
head through its own sub-network (the tasks not finished yet share one pass), so the network still
maps x to every logit and the task's head (``StreamHeads``) picks the task.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from dlzoo.data.streams import StreamBatch, StreamHeads, TaskStream
from dlzoo.families.continual.model import ContinualMLP
from dlzoo.families.continual.objective import FineTuneObjective, fit, params
from dlzoo.paradigms import ContinualConfig
from dlzoo.protocols import Logs, Losses

FREE = 2**30  # the owner of a weight no finished task kept


class PackNetMLP(ContinualMLP):
    """``ContinualMLP`` with an owner per hidden weight; output unit u belongs to task u // classes_per_task."""

    def __init__(
        self, *, input_shape: tuple[int, ...], hidden: tuple[int, ...], num_outputs: int, classes_per_task: int
    ) -> None:
        super().__init__(input_shape=input_shape, hidden=hidden, num_outputs=num_outputs)
        if classes_per_task < 1 or num_outputs % classes_per_task:
            raise ValueError(f"classes_per_task={classes_per_task} must divide num_outputs={num_outputs}")
        self.k, self.num_tasks = classes_per_task, num_outputs // classes_per_task
        self.linears = [m for m in self.features if isinstance(m, nn.Linear)]
        for i, lin in enumerate(self.linears):
            self.register_buffer(f"owner{i}", torch.full_like(lin.weight, FREE, dtype=torch.int32))
        self.register_buffer("current", torch.zeros((), dtype=torch.int64))  # the task being trained

    def owners(self) -> list[torch.Tensor]:
        return [getattr(self, f"owner{i}") for i in range(len(self.linears))]

    def subnetwork(self, x: torch.Tensor, s: int) -> torch.Tensor:
        """Task s's features: the weights of tasks <= s (and the FREE ones when s is not finished). (B, H)"""
        h = x.flatten(1)
        for lin, owner in zip(self.linears, self.owners(), strict=True):
            mask = (owner <= s) | ((owner == FREE) & (self.current <= s))
            h = F.relu(F.linear(h, lin.weight * mask, lin.bias))
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, outs = self.k, []
        finished = int(self.current)
        shared = self.subnetwork(x, finished) if finished < self.num_tasks else None
        for s in range(self.num_tasks):
            h = self.subnetwork(x, s) if s < finished or shared is None else shared
            outs.append(F.linear(h, self.head.weight[s * k : (s + 1) * k], self.head.bias[s * k : (s + 1) * k]))
        return torch.cat(outs, -1)  # (B, num_outputs)


class PackNetConfig(ContinualConfig):
    prune: float = Field(0.75, gt=0, lt=1, description="fraction of each layer's free weights released per task")
    retrain_epochs: int = Field(2, ge=0, description="epochs of retraining the kept weights after pruning")
    retrain_batch_size: int = Field(128, ge=1, description="batch size of the retraining")
    retrain_lr: float = Field(1e-4, gt=0, description="Adam's learning rate of the retraining")
    retrain_seed: int = Field(0, description="seed of the retraining's batch order")


def trainable_masks(model: PackNetMLP, t: int, *, kept_only: bool = False) -> list[torch.Tensor]:
    """Per parameter (``params`` order), True where task t may write: FREE (or, kept_only, task t's) hidden
    weights, the hidden biases on task 0 only, task t's rows of the head."""
    out = []
    for lin, owner in zip(model.linears, model.owners(), strict=True):
        out.append(owner == t if kept_only else owner == FREE)
        out.append(torch.full_like(lin.bias, t == 0, dtype=torch.bool))
    rows = torch.arange(model.head.out_features, device=model.head.weight.device) // model.k == t
    out += [rows[:, None].expand_as(model.head.weight), rows]
    return out


def restore(theta: list[torch.Tensor], masks: list[torch.Tensor], anchor: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for p, m, a in zip(theta, masks, anchor, strict=True):
            p.copy_(torch.where(m, p, a))


class PackNetObjective(FineTuneObjective):
    """PackNet: train the free weights, prune by magnitude, retrain the kept ones, freeze them (task-IL)."""

    Config = PackNetConfig

    def __init__(self, cfg: PackNetConfig) -> None:
        self.cfg = cfg
        self.anchor: list[torch.Tensor] = []  # every parameter's value at the start of the current task

    def prepare(self, stream: TaskStream) -> None:
        if stream.scenario != "task":
            raise ValueError(
                "cl_packnet selects a sub-network per task and so needs the task id: task.scenario=task "
                f"(got {stream.scenario!r})"
            )
        self.k = stream.classes_per_task

    @staticmethod
    def _net(model: nn.Module) -> PackNetMLP:
        net = getattr(model, "module", model)
        assert isinstance(net, PackNetMLP)
        return net

    def loss(self, model: nn.Module, batch: StreamBatch, heads: StreamHeads) -> Losses:
        net = self._net(model)
        if net.k != self.k:
            raise ValueError(f"model.classes_per_task={net.k} but the stream has {self.k} classes per task")
        return super().loss(model, batch, heads)

    def before_update(self, model: nn.Module, batch: StreamBatch, heads: StreamHeads) -> Logs:
        net = self._net(model)
        theta = params(net)
        if not self.anchor:  # the first step of the run: nothing moved yet
            self.anchor = [p.detach().clone() for p in theta]
        for p, m in zip(theta, trainable_masks(net, int(net.current)), strict=True):
            if p.grad is not None:
                p.grad.mul_(m)
        return {}

    def after_update(self, model: nn.Module, batch: StreamBatch) -> None:
        net = self._net(model)
        restore(params(net), trainable_masks(net, int(net.current)), self.anchor)

    @torch.no_grad()
    def prune(self, net: PackNetMLP, t: int) -> None:
        """Keep the largest (1 - prune) of each layer's FREE weights for task t; zero the rest (still FREE)."""
        for lin, owner in zip(net.linears, net.owners(), strict=True):
            free = torch.nonzero(owner.flatten() == FREE).flatten()
            n_keep = int(round((1 - self.cfg.prune) * len(free)))
            mags = lin.weight.flatten()[free].abs()
            keep = free[torch.topk(mags, n_keep, sorted=False).indices] if n_keep else free[:0]
            owner.view(-1)[keep] = t
            lin.weight.view(-1)[free] = torch.where(owner.view(-1)[free] == t, lin.weight.view(-1)[free], 0.0)

    def finish_task(self, model: nn.Module, task_data: StreamBatch, heads: StreamHeads) -> None:
        net = self._net(model)
        t = int(net.current)
        self.prune(net, t)
        net.current.fill_(t + 1)  # task t is finished: its sub-network no longer sees the FREE weights
        theta = params(net)
        masks = trainable_masks(net, t, kept_only=True)
        snapshot = [p.detach().clone() for p in theta]
        if self.cfg.retrain_epochs:
            c = self.cfg
            fit(
                net,
                task_data,
                heads,
                epochs=c.retrain_epochs,
                batch_size=c.retrain_batch_size,
                lr=c.retrain_lr,
                generator=torch.Generator().manual_seed(c.retrain_seed * 1000 + t),
                after_step=lambda: restore(theta, masks, snapshot),
            )
        self.anchor = [p.detach().clone() for p in theta]

    def state_dict(self) -> dict[str, Any]:
        return {f"anchor/{i}": a for i, a in enumerate(self.anchor)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        keys = sorted((k for k in state if k.startswith("anchor/")), key=lambda k: int(k[7:]))
        self.anchor = [state[k] for k in keys]
