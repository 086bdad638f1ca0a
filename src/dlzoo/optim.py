"""The one optimizer factory of every paradigm (and of objectives that own their optimizer, e.g. DQN).

``make_optimizer(params, train_cfg)`` builds ``train.optimizer`` with ``train.lr``,
``train.weight_decay`` and ``train.momentum``; a paradigm that takes some of these from its own
``task:`` section passes them explicitly (the language paradigm's Adam betas, nanoGPT's decay
groups; see ``dlzoo.paradigms`` for which ``train:`` fields each paradigm reads).
``make_scheduler`` is the per-epoch schedule of ``train.scheduler``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from dlzoo.config import TrainConfig

Params = Iterable[nn.Parameter] | list[dict[str, Any]]  # parameters, or parameter groups


def make_optimizer(
    params: Params,
    cfg: TrainConfig,
    *,
    lr: float | None = None,
    betas: tuple[float, float] | None = None,
    momentum: float | None = None,
    fused: bool = False,
) -> torch.optim.Optimizer:
    """``train.optimizer`` over ``params``; ``lr``/``momentum`` default to ``train.lr``/``train.momentum``,
    ``betas`` to torch's. Parameter groups keep their own ``weight_decay``. ``fused``: the fused Adam(W)
    kernel where torch has one (one op for all parameters, the fastest on CPU too), else ``foreach``."""
    lr = cfg.lr if lr is None else lr
    if cfg.optimizer == "sgd":
        momentum = cfg.momentum if momentum is None else momentum
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=cfg.weight_decay)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    kwargs: dict[str, Any] = {"lr": lr, "weight_decay": cfg.weight_decay}
    if betas is not None:
        kwargs["betas"] = betas
    if not fused:
        return cls(params, **kwargs)
    params = list(params)  # may be tried twice
    if "fused" in inspect.signature(cls).parameters:
        try:
            return cls(params, fused=True, **kwargs)
        except (RuntimeError, TypeError):
            pass
    return cls(params, foreach=True, **kwargs)


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """nanoGPT's groups: weight decay on matrices and embeddings (dim >= 2), none on biases and norms."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig) -> Any:
    """``train.scheduler``, stepped once per epoch by the paradigm; None for 'none'.

    'plateau' is ``ReduceLROnPlateau`` on the epoch's mean training loss (its ``step`` takes that
    loss): the LR is multiplied by ``plateau_factor`` after ``plateau_patience`` epochs without a
    decrease of more than 1e-4 (absolute), never below ``min_lr``: Keras's ReduceLROnPlateau defaults,
    which Fawaz et al. (2019) use."""
    if cfg.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt,
            mode="min",
            factor=cfg.plateau_factor,
            patience=cfg.plateau_patience,
            threshold=1e-4,
            threshold_mode="abs",
            min_lr=cfg.min_lr,
        )
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_every, gamma=cfg.step_gamma)
    return None
