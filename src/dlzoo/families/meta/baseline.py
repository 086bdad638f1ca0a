"""Baseline and Baseline++ (Chen et al. 2019): pre-train on every background class at once, then fit a
new head on each task's support set with the backbone frozen; optionally with TSA-style adapters.

Pre-training: the episodes of a meta-batch are pooled into one mini-batch labelled with their global
class ids (``Episode.classes[y]``) and classified by a head over all train classes: Baseline's linear
head, logits = W f(x) + b, or Baseline++'s cosine head, logits_c = s cos(f(x), w_c)
(``model.CosineHead``, s = 10). Adaptation: a new head over the task's N ways (linear: W = 0, b = 0;
cosine: the normalized class means of f(x_S)), trained for ``finetune_steps`` Adam steps on the
support set. With ``adapter`` = film / residual (``adapters.py``) the per-task adapters are trained
with the head, by the same loss on the support set (Li et al. 2022); the backbone never changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from dlzoo.families.meta.adapters import embed, init_adapters
from dlzoo.families.meta.metric import prototypes
from dlzoo.families.meta.model import CosineHead
from dlzoo.families.meta.objective import accuracy
from dlzoo.paradigms import EpisodicConfig
from dlzoo.protocols import EpisodicObjective, Losses

SCALE = 10.0  # s, the cosine head's temperature (as in model.CosineHead)


class BaselineConfig(EpisodicConfig):
    n_way: int = Field(20, ge=2, description="classes per pooled pre-training episode")
    k_shot: int = Field(5, ge=1, description="support examples per class of a pre-training episode")
    n_query: int = Field(5, ge=1, description="query examples per class of a pre-training episode")
    finetune_steps: int = Field(100, ge=0, description="Adam steps of the new head on a task's support set")
    finetune_lr: float = Field(0.01, gt=0, description="learning rate of the new head (and of the adapters)")
    adapter: Literal["none", "film", "residual"] = Field(
        "none", description="per-task adapters trained with the head: FiLM or TSA's residual 1x1 convs"
    )


@dataclass
class TaskHead:
    """A task's new head (and adapters): weight (N, D), bias (N,) or None (cosine), the adapter tensors."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    adapters: dict[str, torch.Tensor] | None
    steps: int


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

    @staticmethod
    def logits(z: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """(Q, D) features -> (Q, N): cosine (bias None) or linear."""
        if bias is None:
            return SCALE * F.normalize(z, dim=-1) @ F.normalize(weight, dim=-1).T
        return z @ weight.T + bias

    def adapt(
        self,
        model: nn.Module,
        support_x: torch.Tensor,
        support_y: torch.Tensor,
        *,
        steps: int | None = None,
        deadline: float | None = None,
        **_: Any,
    ) -> TaskHead:
        """A new head (and adapters) fitted on the support set; the model's own weights get no gradient."""
        steps = self.cfg.finetune_steps if steps is None else steps
        adapters = None if self.cfg.adapter == "none" else init_adapters(model.body, self.cfg.adapter)
        with torch.no_grad():
            z = model.embed(support_x)  # (S, D) the frozen features (adapters start as the identity)
        ways = int(support_y.max()) + 1
        cosine = isinstance(model.head, CosineHead)
        if cosine:  # imprinted initialization: the normalized class means
            weight, bias = prototypes(F.normalize(z, dim=-1), support_y, ways).clone(), None
        else:
            weight, bias = torch.zeros(ways, z.shape[-1]), torch.zeros(ways)
        tensors = [t.requires_grad_(True) for t in (weight, bias) if t is not None]
        tensors += list(adapters.values()) if adapters else []
        opt = torch.optim.Adam(tensors, lr=self.cfg.finetune_lr)
        taken = 0
        with torch.enable_grad():
            for _ in range(steps):
                if deadline is not None and time.monotonic() > deadline:
                    break
                feats = z if adapters is None else embed(model.body, support_x, adapters)
                loss = F.cross_entropy(self.logits(feats, weight, bias), support_y)
                grads = torch.autograd.grad(loss, tensors)  # only the task's tensors: nothing reaches the model
                for t, g in zip(tensors, grads, strict=True):
                    t.grad = g
                opt.step()
                taken += 1
        detach = None if adapters is None else {k: v.detach() for k, v in adapters.items()}
        return TaskHead(weight.detach(), None if bias is None else bias.detach(), detach, taken)

    def predict(self, model: nn.Module, adapted: TaskHead, query_x: torch.Tensor) -> torch.Tensor:
        z = embed(model.body, query_x, adapted.adapters)  # (Q, D)
        return self.logits(z, adapted.weight, adapted.bias)  # (Q, N)
