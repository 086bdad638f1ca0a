"""GDumb (Prabhu, Torr & Dokania 2020, "GDumb: A Simple Approach that Questions Our Progress in
Continual Learning"): a class-balanced greedy memory, and a network retrained from scratch on it.

**The sampler** (their Algorithm 1, ``GreedyClassBalancedMemory.add``). A memory of M slots; a
"class" is an output unit together with its task (the pair (t, y): in domain-IL the shared units are
balanced per task too). With C the classes seen so far, an incoming example of class y is

    stored              if the memory is not full;
    stored instead of a random example of the largest class    if n_y < M / C;
    dropped             otherwise,

so the memory tends to M / C examples per class, whatever the order or the class frequencies.

**The learner** (their Algorithm 2, ``GDumbObjective.finish_task``). Nothing is learned from the
stream: at the end of each task the task's examples are offered to the sampler (in a random order
drawn from the run's seeded generator, once), the network is re-initialized, and it is trained on the memory alone for
``retrain_epochs`` epochs (Adam, cross-entropy over each example's active units: every class seen so
far in class-IL, its own head in task-IL). The stream's steps only run a zero loss (``loss``): the
paradigm's optimizer never moves a weight (Adam's update of a zero gradient is zero).
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn

from dlzoo.data.streams import StreamBatch, StreamHeads, TaskStream
from dlzoo.families.continual.objective import FineTuneObjective, fit, params, reinitialize
from dlzoo.families.continual.rehearsal import check_budget
from dlzoo.paradigms import ContinualConfig
from dlzoo.protocols import Losses


class GreedyClassBalancedMemory:
    """M examples, kept balanced over the (task, unit) classes seen so far (GDumb's Algorithm 1)."""

    def __init__(self, capacity: int, *, seed: int) -> None:
        self.capacity = capacity
        self.generator = torch.Generator().manual_seed(seed)
        self.x = self.y = self.task = torch.empty(0)
        self.n = 0  # slots filled
        self.seen_classes: set[tuple[int, int]] = set()

    def __len__(self) -> int:
        return self.n

    def counts(self) -> dict[tuple[int, int], int]:
        keys = list(zip(self.task[: self.n].tolist(), self.y[: self.n].tolist(), strict=True))
        out: dict[tuple[int, int], int] = {}
        for k in keys:
            out[k] = out.get(k, 0) + 1
        return out

    def add(self, batch: StreamBatch) -> None:
        x, y, task = batch.x.detach().cpu(), batch.y.cpu(), batch.task.cpu()
        if not self.x.numel():
            self.x = torch.zeros(self.capacity, *x.shape[1:], dtype=x.dtype)
            self.y = torch.zeros(self.capacity, dtype=torch.int64)
            self.task = torch.zeros(self.capacity, dtype=torch.int64)
        counts = self.counts()
        for b in range(len(x)):
            key = (int(task[b]), int(y[b]))
            self.seen_classes.add(key)
            if self.n < self.capacity:
                slot = self.n
                self.n += 1
            elif counts.get(key, 0) < self.capacity / len(self.seen_classes):
                largest = max(counts, key=lambda k: (counts[k], k))  # ties: the largest key, deterministic
                members = torch.nonzero((self.task == largest[0]) & (self.y == largest[1])).flatten()
                slot = int(members[torch.randint(len(members), (1,), generator=self.generator)])
                counts[largest] -= 1
            else:
                continue
            self.x[slot], self.y[slot], self.task[slot] = x[b], y[b], task[b]
            counts[key] = counts.get(key, 0) + 1

    def batch(self) -> StreamBatch:
        return StreamBatch(self.x[: self.n], self.y[: self.n], self.task[: self.n])

    def state_dict(self) -> dict[str, torch.Tensor]:
        seen = torch.tensor(sorted(self.seen_classes), dtype=torch.int64).reshape(-1, 2)
        state = {"n": torch.tensor(self.n), "generator": self.generator.get_state(), "seen_classes": seen}
        return state | ({"x": self.x, "y": self.y, "task": self.task} if self.x.numel() else {})

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.n = int(state["n"])
        self.generator.set_state(state["generator"])
        self.seen_classes = {(int(t), int(y)) for t, y in state["seen_classes"].tolist()}
        if "x" in state:
            self.x, self.y, self.task = state["x"], state["y"], state["task"]


class GDumbConfig(ContinualConfig):
    buffer_size: int = Field(1000, ge=1, description="M: examples the class-balanced memory keeps")
    buffer_seed: int = Field(0, description="seed of the sampler's evictions (the rest follows train.seed)")
    retrain_epochs: int = Field(30, ge=1, description="epochs over the memory at every task boundary, from scratch")
    retrain_batch_size: int = Field(128, ge=1, description="batch size of the retraining")
    retrain_lr: float = Field(1e-3, gt=0, description="Adam's learning rate of the retraining")


class GDumbObjective(FineTuneObjective):
    """GDumb: a greedy class-balanced memory; at each task boundary, a network trained from scratch on it."""

    Config = GDumbConfig

    def __init__(self, cfg: GDumbConfig) -> None:
        self.cfg = cfg
        self.memory = GreedyClassBalancedMemory(cfg.buffer_size, seed=cfg.buffer_seed)
        self.tasks_done = 0

    def prepare(self, stream: TaskStream) -> None:
        check_budget(self.cfg.buffer_size, stream)

    def loss(self, model: nn.Module, batch: StreamBatch, heads: StreamHeads) -> Losses:
        """The stream is not learned from: a zero loss (every gradient 0), the memory fills at the boundary."""
        zero = sum(p.sum() for p in params(model)) * 0.0
        return zero, {"memory": float(len(self.memory))}

    def finish_task(self, model: nn.Module, task_data: StreamBatch, heads: StreamHeads) -> None:
        # the run's seed enters through the global generator (seeded by train.seed, checkpointed at every
        # round boundary, so a resumed run draws the same): the offering order, the init and the batches
        seed = int(torch.randint(0, 2**31 - 1, ()))
        order = torch.randperm(len(task_data.y), generator=torch.Generator().manual_seed(seed))
        self.memory.add(StreamBatch(task_data.x[order], task_data.y[order], task_data.task[order]))
        reinitialize(model, seed)
        c = self.cfg
        fit(
            model,
            self.memory.batch(),
            heads,
            epochs=c.retrain_epochs,
            batch_size=c.retrain_batch_size,
            lr=c.retrain_lr,
            generator=torch.Generator().manual_seed(seed),
        )
        self.tasks_done += 1

    def state_dict(self) -> dict[str, Any]:
        mem = {f"memory/{k}": v for k, v in self.memory.state_dict().items()}
        return {"tasks_done": torch.tensor(self.tasks_done), **mem}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tasks_done = int(state["tasks_done"])
        self.memory.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("memory/")})
