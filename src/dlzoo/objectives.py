"""Objectives and losses of the core: the supervised defaults and the language models' cross-entropy.

A supervised model registered without an objective trains with ``ClassifyObjective`` (classify) or
``RegressObjective`` (regress); families with a loss of their own subclass ``SupervisedObjective``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.protocols import SupervisedObjective


class ClassifyObjective(SupervisedObjective):
    """Cross-entropy on logits: L = -log softmax(f(x))_y, averaged over the batch."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        label_smoothing: float = Field(0.0, ge=0, lt=1, description="mix targets with uniform (Szegedy 2016)")

    def __init__(self, cfg: ClassifyObjective.Config) -> None:
        self.cfg = cfg

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y, label_smoothing=self.cfg.label_smoothing)  # (B, C), (B,) -> ()


class RegressObjective(SupervisedObjective):
    """Mean squared error: L = mean (f(x) - y)^2."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, cfg: RegressObjective.Config) -> None:
        self.cfg = cfg

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out.reshape(y.shape), y)


def cross_entropy_lm(logits: torch.Tensor, targets: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """-log p(target) per token: logits (B, T, V), targets (B, T) -> () or (B, T)."""
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction=reduction)
    return loss if reduction != "none" else loss.view(targets.shape)
