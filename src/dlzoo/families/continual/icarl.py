"""iCaRL (Rebuffi, Kolesnikov, Sperl & Lampert 2017): herding exemplars, distillation, nearest mean of exemplars.

**Exemplars by herding** (their Algorithm 4, ``herding``). With phi(x) the L2-normalized features of
the network (``ContinualMLP.features``) and mu the mean of class y's phi, the k-th exemplar is

    p_k = argmin_x || mu - 1/k (phi(x) + sum_{j<k} phi(p_j)) ||,

so the first m exemplars' mean approximates mu best greedily; a memory of M examples keeps
m = M // (classes seen) per class, and shrinking a class keeps its first m (Algorithm 5).

**Training** (Algorithm 3, ``ICaRLObjective.loss``): the current batch and a batch of exemplars; with
the frozen previous network's outputs q_u = sigmoid(f_old(x)_u), a binary cross-entropy over the
active units u, whose targets are q_u on the units of the earlier tasks (distillation) and the
one-hot label on the others (classification):

    L = -1/B sum_b sum_{u active} [ t_bu log s(f_u(x_b)) + (1 - t_bu) log(1 - s(f_u(x_b))) ].

**Classification by the nearest mean of exemplars** (Algorithm 1, ``ICaRLMLP.forward`` in eval mode):
mu_y = normalize(1/|P_y| sum_{p in P_y} phi(p)) is computed at every task boundary for every class
seen, and y* = argmin_y || phi(x) - mu_y ||; the network's outputs are the scores -|| phi(x) - mu_y ||^2,
so every argmax over units (masks, ``/predict``) is the NME rule. A unit with no mean yet (the current
task's classes before its boundary) is scored by the network's own logit, in training mode always.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from dlzoo.data.streams import StreamBatch, StreamHeads, TaskStream
from dlzoo.families.continual.model import ContinualMLP
from dlzoo.families.continual.objective import FineTuneObjective
from dlzoo.families.continual.rehearsal import check_budget
from dlzoo.paradigms import ContinualConfig
from dlzoo.protocols import Losses


class ICaRLMLP(ContinualMLP):
    """``ContinualMLP`` plus a class mean per output unit: NME scores in eval mode (see the module)."""

    def __init__(self, *, input_shape: tuple[int, ...], hidden: tuple[int, ...], num_outputs: int) -> None:
        super().__init__(input_shape=input_shape, hidden=hidden, num_outputs=num_outputs)
        self.register_buffer("means", torch.zeros(num_outputs, hidden[-1]))  # (O, H) unit means of phi
        self.register_buffer("has_mean", torch.zeros(num_outputs, dtype=torch.bool))  # (O,)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, O)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.features(x), dim=-1)  # (B, H): phi(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (B, H)
        logits = self.head(h)  # (B, O)
        if self.training:
            return logits
        dist = (F.normalize(h, dim=-1)[:, None, :] - self.means[None]).square().sum(-1)  # (B, O)
        return torch.where(self.has_mean, -dist, logits)


def herding(phi: torch.Tensor, m: int) -> torch.Tensor:
    """Indices of m exemplars of one class, in herding order. phi: (n, H) normalized features."""
    mu = phi.mean(0)  # (H,)
    running = torch.zeros_like(mu)
    taken = torch.zeros(len(phi), dtype=torch.bool)
    chosen = []
    for k in range(1, min(m, len(phi)) + 1):
        dist = (mu[None] - (running[None] + phi) / k).norm(dim=-1)  # (n,)
        dist[taken] = float("inf")
        i = int(dist.argmin())
        chosen.append(i)
        taken[i] = True
        running += phi[i]
    return torch.tensor(chosen, dtype=torch.int64)


class ICaRLConfig(ContinualConfig):
    buffer_size: int = Field(1000, ge=1, description="M: exemplars of all classes together (M // classes each)")
    replay_batch_size: int = Field(128, ge=1, description="exemplars added to every batch")
    buffer_seed: int = Field(0, description="seed of the exemplar batches")


class ICaRLObjective(FineTuneObjective):
    """iCaRL: herding exemplars, sigmoid distillation of the previous network, NME classification."""

    Config = ICaRLConfig

    def __init__(self, cfg: ICaRLConfig) -> None:
        self.cfg = cfg
        self.generator = torch.Generator().manual_seed(cfg.buffer_seed)
        self.x = self.y = self.task = torch.empty(0)  # exemplars, class after class, each in herding order
        self.old_state: dict[str, torch.Tensor] = {}
        self.old: nn.Module | None = None
        self.tasks_done, self.k = 0, 1

    def prepare(self, stream: TaskStream) -> None:
        if stream.scenario == "domain":
            raise ValueError(
                "cl_icarl keeps exemplars and means per class and distils the earlier classes' units: it needs "
                "separate units per task (task.scenario=class or task), not the shared head of domain-IL"
            )
        check_budget(self.cfg.buffer_size, stream)
        self.k = stream.classes_per_task

    def loss(self, model: nn.Module, batch: StreamBatch, heads: StreamHeads) -> Losses:
        if len(self.y):
            idx = torch.randperm(len(self.y), generator=self.generator)[: self.cfg.replay_batch_size]
            dev = batch.x.device
            batch = StreamBatch(
                torch.cat([batch.x, self.x[idx].to(dev)]),
                torch.cat([batch.y, self.y[idx].to(dev)]),
                torch.cat([batch.task, self.task[idx].to(dev)]),
            )
        out = model(batch.x)  # (B, O) logits (training mode)
        target = F.one_hot(batch.y, out.shape[1]).to(out.dtype)  # (B, O)
        logs: dict[str, Any] = {}
        if self.tasks_done:
            if self.old is None:  # resumed: f_old is rebuilt from its weights in the checkpoint
                self.old = self._frozen(model)
            with torch.no_grad():
                q = torch.sigmoid(self.old.head(self.old.features(batch.x)))  # (B, O)
            old_units = torch.arange(out.shape[1], device=out.device) // self.k < self.tasks_done  # (O,)
            target = torch.where(old_units[None], q, target)
        active = heads.mask(batch.task).to(out.dtype)  # (B, O)
        bce = F.binary_cross_entropy_with_logits(out, target, reduction="none")
        loss = (bce * active).sum() / len(batch.y)
        return loss, logs

    @torch.no_grad()
    def finish_task(self, model: nn.Module, task_data: StreamBatch, heads: StreamHeads) -> None:
        """Herding exemplars for the new classes, the old ones shrunk to m each; every class mean recomputed."""
        assert isinstance(model, ICaRLMLP)
        was = model.training
        model.eval()
        dev = next(model.parameters()).device
        classes = sorted(set(task_data.y.tolist()) | set(self.y.tolist()))
        m = self.cfg.buffer_size // len(classes)
        keep = []
        for c in sorted(set(self.y.tolist())):  # the first m of each old class (herding order)
            keep.append(torch.nonzero(self.y == c).flatten()[:m])
        parts = [(self.x[i], self.y[i], self.task[i]) for i in keep]
        for c in sorted(set(task_data.y.tolist())):
            members = torch.nonzero(task_data.y == c).flatten()
            phi = torch.cat([model.embed(task_data.x[s].to(dev)).cpu() for s in members.split(1024)])
            chosen = members[herding(phi, m)]
            parts.append((task_data.x[chosen], task_data.y[chosen], task_data.task[chosen]))
        self.x, self.y, self.task = (torch.cat([p[j] for p in parts]) for j in range(3))
        for c in classes:
            phi = model.embed(self.x[self.y == c].to(dev))
            model.means[c] = F.normalize(phi.mean(0), dim=-1)
            model.has_mean[c] = True
        model.train(was)

    def consolidate(self, model: nn.Module, task_data: StreamBatch, heads: StreamHeads) -> None:
        self.old_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.old = self._frozen(model)
        self.tasks_done += 1

    def _frozen(self, model: nn.Module) -> nn.Module:
        old = copy.deepcopy(getattr(model, "module", model))
        old.load_state_dict(self.old_state)
        return old.requires_grad_(False)

    def state_dict(self) -> dict[str, Any]:
        state = {"tasks_done": torch.tensor(self.tasks_done), "generator": self.generator.get_state()}
        if len(self.y):
            state |= {"exemplars/x": self.x, "exemplars/y": self.y, "exemplars/task": self.task}
        return state | {f"old/{k}": v for k, v in self.old_state.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tasks_done = int(state["tasks_done"])
        self.generator.set_state(state["generator"])
        if "exemplars/y" in state:
            self.x, self.y, self.task = state["exemplars/x"], state["exemplars/y"], state["exemplars/task"]
        self.old_state = {k[4:]: v for k, v in state.items() if k.startswith("old/")}
        self.old = None
