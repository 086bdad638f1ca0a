"""The language-model objective: next-token cross-entropy.

    L(theta) = -1/(B T) sum_{b,t} log p_theta(x_{b,t+1} | x_{b,<=t})      (Radford et al. 2018, eq. 1)

Training (batches, learning-rate schedule, evaluation) is the language paradigm's
(``dlzoo/tasks/language.py``); this class holds the loss, and works for any model on that paradigm.
Serving (prompt -> continuation) is in ``pipeline.py``.
"""

from __future__ import annotations

from typing import Any

import torch

from dlzoo.objectives import cross_entropy_lm
from dlzoo.paradigms import LanguageConfig
from dlzoo.protocols import LanguageObjective


class LanguageModelObjective(LanguageObjective):
    """Next-token cross-entropy."""

    Config = LanguageConfig

    def __init__(self, cfg: LanguageConfig) -> None:
        self.cfg = cfg

    def loss(self, model: Any, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean -log p(y_t | x_<=t) over the batch: x, y (B, T) int64 -> ()."""
        return cross_entropy_lm(model(x), y)  # logits (B, T, V)
