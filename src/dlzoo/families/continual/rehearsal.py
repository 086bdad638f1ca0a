"""Rehearsal: experience replay from a reservoir buffer, and A-GEM's gradient projection.

**Reservoir sampling** (Vitter 1985, Algorithm R) keeps a uniform sample of a stream of unknown length
in a buffer of M slots: the n-th example (0-based) fills slot n while n < M, else it replaces slot j
for j ~ U{0, ..., n} when j < M. Every example seen so far is then in the buffer with probability M / N.

**Experience replay** (Chaudhry et al. 2019, "On Tiny Episodic Memories"; Rolnick et al. 2019): each
step trains on the current batch concatenated with a batch drawn from the buffer, then inserts the
current batch into the buffer:  L = L_task(B_current U B_memory).

**A-GEM** (Chaudhry et al. 2019, "Efficient Lifelong Learning with A-GEM", eq. 11): the memory holds
examples of the finished tasks only. With g the gradient of the current batch and g_ref that of a
memory batch, the step must not increase the memory loss to first order, g~ . g_ref >= 0:

    g~ = g - (g . g_ref) / (g_ref . g_ref) g_ref    if g . g_ref < 0,   else g~ = g
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn

from dlzoo.data.streams import StreamBatch, StreamHeads, TaskStream
from dlzoo.families.continual.objective import FineTuneObjective, params, task_loss
from dlzoo.paradigms import ContinualConfig
from dlzoo.protocols import Losses


class ReservoirBuffer:
    """M examples (x, y, task): a uniform sample of everything ``add`` has seen (Algorithm R)."""

    def __init__(self, capacity: int, *, seed: int) -> None:
        self.capacity, self.seen = capacity, 0
        self.generator = torch.Generator().manual_seed(seed)
        self.x = self.y = self.task = torch.empty(0)

    def __len__(self) -> int:
        return min(self.seen, self.capacity)

    def add(self, batch: StreamBatch) -> None:
        x, y, task = batch.x.detach().cpu(), batch.y.cpu(), batch.task.cpu()
        if self.seen == 0:
            self.x = torch.zeros(self.capacity, *x.shape[1:], dtype=x.dtype)
            self.y = torch.zeros(self.capacity, dtype=torch.int64)
            self.task = torch.zeros(self.capacity, dtype=torch.int64)
        n = self.seen + torch.arange(len(x))  # the stream position of each example
        # slot n while the buffer fills, else j ~ U{0..n}: kept when j < M
        u = torch.rand(len(x), generator=self.generator, dtype=torch.float64)
        slot = torch.where(n < self.capacity, n, (u * (n + 1).double()).floor().long())
        for b in torch.nonzero(slot < self.capacity).flatten().tolist():  # in stream order: later wins
            s = int(slot[b])
            self.x[s], self.y[s], self.task[s] = x[b], y[b], task[b]
        self.seen += len(x)

    def sample(self, n: int, device: torch.device) -> StreamBatch:
        """n examples drawn without replacement (all of them when the buffer holds fewer)."""
        idx = torch.randperm(len(self), generator=self.generator)[:n]
        return StreamBatch(self.x[idx].to(device), self.y[idx].to(device), self.task[idx].to(device))

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {"seen": torch.tensor(self.seen), "generator": self.generator.get_state()}
        return state | ({"x": self.x, "y": self.y, "task": self.task} if self.seen else {})

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.seen = int(state["seen"])
        self.generator.set_state(state["generator"])
        if self.seen:
            self.x, self.y, self.task = state["x"], state["y"], state["task"]


class ReplayConfig(ContinualConfig):
    buffer_size: int = Field(1000, ge=1, description="M: examples the reservoir keeps (all tasks together)")
    replay_batch_size: int = Field(128, ge=1, description="memory examples added to every batch")
    buffer_seed: int = Field(0, description="seed of the reservoir's draws")


def check_budget(buffer_size: int, stream: TaskStream) -> None:
    n = stream.train_size()
    if buffer_size > n:
        raise ValueError(
            f"task.buffer_size={buffer_size} is larger than the stream's {n} training examples; valid: 1..{n}"
        )


class ReplayObjective(FineTuneObjective):
    """Experience replay: the current batch and a reservoir batch, one task loss over both."""

    Config = ReplayConfig

    def __init__(self, cfg: ReplayConfig) -> None:
        self.cfg = cfg
        self.buffer = ReservoirBuffer(cfg.buffer_size, seed=cfg.buffer_seed)

    def prepare(self, stream: TaskStream) -> None:
        check_budget(self.cfg.buffer_size, stream)

    def loss(self, model: nn.Module, batch: StreamBatch, heads: StreamHeads) -> Losses:
        if not len(self.buffer):
            return task_loss(model, batch, heads), {}
        mem = self.buffer.sample(self.cfg.replay_batch_size, batch.x.device)
        both = StreamBatch(
            *(torch.cat([a, b]) for a, b in ((batch.x, mem.x), (batch.y, mem.y), (batch.task, mem.task)))
        )
        return task_loss(model, both, heads), {}

    def after_update(self, model: nn.Module, batch: StreamBatch) -> None:
        self.buffer.add(batch)

    def state_dict(self) -> dict[str, Any]:
        return {f"buffer/{k}": v for k, v in self.buffer.state_dict().items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.buffer.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("buffer/")})


def agem_project(g: torch.Tensor, g_ref: torch.Tensor) -> torch.Tensor:
    """A-GEM's projection of a flat gradient g (D,) against the reference g_ref (D,): eq. 11 above."""
    dot = torch.dot(g, g_ref)
    if dot >= 0:
        return g
    return g - dot / torch.dot(g_ref, g_ref).clamp_min(1e-12) * g_ref


class AGEMConfig(ReplayConfig):
    replay_batch_size: int = Field(256, ge=1, description="memory examples of the reference gradient")


class AGEMObjective(ReplayObjective):
    """A-GEM: the current task's gradient, projected when it would raise the loss on a memory batch."""

    Config = AGEMConfig

    def loss(self, model: nn.Module, batch: StreamBatch, heads: StreamHeads) -> Losses:
        return task_loss(model, batch, heads), {}

    def before_update(self, model: nn.Module, batch: StreamBatch, heads: StreamHeads) -> dict[str, Any]:
        if not len(self.buffer):
            return {}
        theta = [p for p in params(model) if p.grad is not None]
        mem = self.buffer.sample(self.cfg.replay_batch_size, batch.x.device)
        g_ref = torch.autograd.grad(task_loss(model, mem, heads), theta, allow_unused=True)
        g_ref_flat = torch.cat(
            [(r if r is not None else torch.zeros_like(p)).flatten() for r, p in zip(g_ref, theta, strict=True)]
        )
        g = torch.cat([p.grad.flatten() for p in theta])
        new = agem_project(g, g_ref_flat)
        start = 0
        for p in theta:  # write g~ back into .grad
            p.grad.copy_(new[start : start + p.numel()].view_as(p))
            start += p.numel()
        return {"projected": float(torch.dot(g, g_ref_flat) < 0)}

    def after_update(self, model: nn.Module, batch: StreamBatch) -> None:
        """The memory holds finished tasks only: filled by ``consolidate``, not by the current batches."""

    def consolidate(self, model: nn.Module, task_data: StreamBatch, heads: StreamHeads) -> None:
        self.buffer.add(task_data)
