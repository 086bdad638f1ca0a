"""What every strategy shares, and the two baselines: fine-tuning (the lower bound) and joint training.

Every strategy minimizes the cross-entropy of the current batch over its active output units
(``dlzoo.data.streams.StreamHeads``: the task's own head, the shared head, or the seen classes),

    L_task(theta) = -1/B sum_b log softmax(f_theta(x_b)[active_b])[y_b]

and differs in what it adds: a penalty (EWC, SI: ``regularization.py``), a distillation term (LwF:
``distillation.py``), replayed examples or a projected gradient (``rehearsal.py``). Parameters are
addressed by position in ``model.parameters()``: the Fabric-wrapped module the loss sees and the
plain module that ``consolidate`` sees list the same tensors in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlzoo.data.streams import StreamBatch, StreamHeads, masked_logits
from dlzoo.paradigms import ContinualConfig
from dlzoo.protocols import ContinualObjective, Losses


def task_loss(model: nn.Module, batch: StreamBatch, heads: StreamHeads) -> torch.Tensor:
    """Mean cross-entropy over each example's active units (the equation above)."""
    logits = masked_logits(model(batch.x), heads.mask(batch.task))  # (B, O), inactive units -inf
    return F.cross_entropy(logits, batch.y)


def params(model: nn.Module) -> list[torch.Tensor]:
    """The trainable parameters, in the module's order (the same for a wrapped and a plain module)."""
    return [p for p in model.parameters() if p.requires_grad]


def indexed(prefix: str, tensors: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """``{prefix/k: tensor}`` for a state dict; ``unindexed`` reads it back."""
    return {f"{prefix}/{k}": t for k, t in enumerate(tensors)}


def unindexed(prefix: str, state: dict[str, Any]) -> list[torch.Tensor]:
    keys = sorted((k for k in state if k.startswith(prefix + "/")), key=lambda k: int(k.rsplit("/", 1)[1]))
    return [state[k] for k in keys]


def reinitialize(model: nn.Module, seed: int) -> None:
    """Every layer's own ``reset_parameters``, under a fixed seed (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in model.modules():
            if m is not model and hasattr(m, "reset_parameters"):
                m.reset_parameters()


def fit(
    model: nn.Module,
    data: StreamBatch,
    heads: StreamHeads,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
    trainable: list[torch.Tensor] | None = None,
    after_step: Callable[[], None] | None = None,
) -> float:
    """Adam on ``data`` for ``epochs`` epochs (seeded batch order); returns the last epoch's mean loss."""
    device = next(model.parameters()).device
    theta = trainable if trainable is not None else params(model)
    opt = torch.optim.Adam(theta, lr=lr)
    was = model.training
    model.train()
    mean = 0.0
    for _ in range(epochs):
        order = torch.randperm(len(data.y), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            b = StreamBatch(data.x[idx].to(device), data.y[idx].to(device), data.task[idx].to(device))
            loss = task_loss(model, b, heads)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step()
            total += float(loss.detach()) * len(idx)
        mean = total / max(1, len(order))
    model.train(was)
    return mean


class FineTuneObjective(ContinualObjective):
    """Naive fine-tuning: the task loss alone, task after task (the lower bound: catastrophic forgetting)."""

    Config = ContinualConfig

    def __init__(self, cfg: ContinualConfig) -> None:
        self.cfg = cfg

    def loss(self, model: nn.Module, batch: StreamBatch, heads: StreamHeads) -> Losses:
        return task_loss(model, batch, heads), {}


class JointObjective(FineTuneObjective):
    """Joint training on every task seen so far (the upper bound: no forgetting, but all data is kept).

    The paradigm draws task i's batches from the union of tasks 0..i (``joint = True``); the loss is the
    same task loss over each example's own active units."""

    joint = True
