"""Baseline++ (Chen et al. 2019): pre-train on every background class at once, then fit a new cosine
head on each task's support set with the backbone frozen.

Pre-training: the episodes of a meta-batch are pooled into one mini-batch labelled with their global
class ids (``Episode.classes[y]``) and classified by a cosine head over all train classes,
logits_c = s cos(f(x), w_c) (``model.CosineHead``, s = 10). Adaptation: a new head over the task's N
ways, initialized at the normalized class means of f(x_S) and trained for ``finetune_steps`` Adam
steps on the support set; the backbone is frozen and never changed.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from dlzoo.families.meta.metric import prototypes
from dlzoo.families.meta.objective import accuracy
from dlzoo.paradigms import EpisodicConfig
from dlzoo.protocols import EpisodicObjective, Losses

SCALE = 10.0  # s, the cosine head's temperature (as in model.CosineHead)


class BaselineConfig(EpisodicConfig):
    n_way: int = Field(20, ge=2, description="classes per pooled pre-training episode")
    k_shot: int = Field(5, ge=1, description="support examples per class of a pre-training episode")
    n_query: int = Field(5, ge=1, description="query examples per class of a pre-training episode")
    finetune_steps: int = Field(100, ge=0, description="Adam steps of the new head on a task's support set")
    finetune_lr: float = Field(0.01, gt=0, description="learning rate of the new head")


class BaselinePPObjective(EpisodicObjective):
    Config = BaselineConfig

    def __init__(self, cfg: BaselineConfig) -> None:
        self.cfg = cfg

    def meta_loss(self, model: nn.Module, episodes: list[Any]) -> Losses:
        x = torch.cat([torch.cat([ep.support_x, ep.query_x]) for ep in episodes])
        y = torch.cat([ep.classes[torch.cat([ep.support_y, ep.query_y])] for ep in episodes])  # global ids
        out = model(x)  # (B, train classes)
        loss = F.cross_entropy(out, y)
        return loss, {"loss": loss.detach(), "accuracy": accuracy(out.detach(), y)}

    def adapt(
        self,
        model: nn.Module,
        support_x: torch.Tensor,
        support_y: torch.Tensor,
        *,
        steps: int | None = None,
        **_: Any,
    ) -> torch.Tensor:
        """The new cosine head's weights (N, D), fitted on the frozen features of the support set."""
        steps = self.cfg.finetune_steps if steps is None else steps
        with torch.no_grad():
            z = F.normalize(model.embed(support_x), dim=-1)  # (S, D)
        ways = int(support_y.max()) + 1
        w = prototypes(z, support_y, ways).clone().requires_grad_(True)  # (N, D) imprinted initialization
        opt = torch.optim.Adam([w], lr=self.cfg.finetune_lr)
        with torch.enable_grad():
            for _ in range(steps):
                loss = F.cross_entropy(SCALE * z @ F.normalize(w, dim=-1).T, support_y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return w.detach()

    def predict(self, model: nn.Module, adapted: torch.Tensor, query_x: torch.Tensor) -> torch.Tensor:
        z = F.normalize(model.embed(query_x), dim=-1)  # (Q, D)
        return SCALE * z @ F.normalize(adapted, dim=-1).T  # (Q, N)
