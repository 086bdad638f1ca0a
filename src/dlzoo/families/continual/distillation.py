"""Learning without Forgetting (Li & Hoiem 2017): distil the previous model's outputs on the new data.

No old data is kept. At the end of each task a frozen copy f_old of the network is stored; while task i
is trained (i earlier tasks), the new network is asked to keep f_old's answers on the *current* inputs
for the units of the earlier tasks (each earlier head for task-IL; the shared head, or the classes
seen before, for domain- and class-IL), through knowledge distillation at temperature T (Hinton et al.
2015), scaled by T^2 so its gradients keep their size:

    L_distill = T^2 sum_{heads h} KL( softmax(f_old(x)[h] / T) || softmax(f(x)[h] / T) )

weighted as in van de Ven & Tolias (2019) by the share of earlier tasks among the i + 1 seen so far:

    L = 1/(i+1) L_task + (1 - 1/(i+1)) L_distill
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from dlzoo.data.streams import StreamBatch, StreamHeads, masked_logits
from dlzoo.families.continual.objective import FineTuneObjective
from dlzoo.paradigms import ContinualConfig
from dlzoo.protocols import Losses


def distillation_loss(new: torch.Tensor, old: torch.Tensor, *, temperature: float) -> torch.Tensor:
    """T^2 KL(softmax(old / T) || softmax(new / T)), averaged over the batch. new, old: (B, units)."""
    log_p = F.log_softmax(new / temperature, -1)
    q = F.softmax(old / temperature, -1)
    return temperature**2 * F.kl_div(log_p, q, reduction="batchmean")


class LwFConfig(ContinualConfig):
    temperature: float = Field(2.0, gt=0, description="T: softens both distributions (van de Ven & Tolias: 2)")


class LwFObjective(FineTuneObjective):
    """LwF: the task loss plus distillation of the frozen previous model on the current inputs."""

    Config = LwFConfig

    def __init__(self, cfg: LwFConfig) -> None:
        self.cfg = cfg
        self.old: nn.Module | None = None
        self.old_state: dict[str, torch.Tensor] = {}  # f_old's weights (what the checkpoint holds)
        self.tasks_done = 0

    def loss(self, model: nn.Module, batch: StreamBatch, heads: StreamHeads) -> Losses:
        out = model(batch.x)  # (B, O)
        task = F.cross_entropy(masked_logits(out, heads.mask(batch.task)), batch.y)
        if self.tasks_done == 0:
            return task, {"task_loss": task.detach()}
        if self.old is None:  # resumed: f_old is rebuilt from its weights in the checkpoint
            self.old = self._frozen(model)
        with torch.no_grad():
            target = self.old(batch.x)  # (B, O)
        i = self.tasks_done
        before = replace(heads, seen=i)  # the units f_old was trained on
        groups = {tuple(torch.nonzero(before.mask(torch.tensor([p]))[0]).flatten().tolist()) for p in range(i)}
        distill = sum(
            distillation_loss(out[:, list(units)], target[:, list(units)], temperature=self.cfg.temperature)
            for units in sorted(groups)
        )
        share = 1.0 / (self.tasks_done + 1)  # the current task's share of the tasks seen so far
        total = share * task + (1 - share) * distill
        return total, {"task_loss": task.detach(), "distill": distill.detach()}

    def consolidate(self, model: nn.Module, task_data: StreamBatch, heads: StreamHeads) -> None:
        self.old_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.old = self._frozen(model)
        self.tasks_done += 1

    def _frozen(self, model: nn.Module) -> nn.Module:
        old = copy.deepcopy(model).eval()
        old.load_state_dict(self.old_state)
        return old.requires_grad_(False)

    def state_dict(self) -> dict[str, Any]:
        return {"tasks_done": torch.tensor(self.tasks_done), **{f"old/{k}": v for k, v in self.old_state.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tasks_done = int(state["tasks_done"])
        self.old_state = {k[4:]: v for k, v in state.items() if k.startswith("old/")}
        self.old = None  # rebuilt by the next loss, with the live model as the template
