"""The network every strategy trains: van de Ven & Tolias' (2019) fully connected classifier.

Split MNIST in "Three scenarios for continual learning" (sec. 4, and the ``splitMNIST`` defaults of
their code): 784 -> 400 -> 400 -> output units, ReLU. The output layer has one unit per (task, local
label) pair, ``TaskStream.num_outputs``: 2 units shared by every task for domain-IL (a single head);
T x 2 for task-IL, where task t owns units [2t, 2t + 2) (the "multi-headed" layer: each task's head
is its slice, selected by the task id), and for class-IL, where all of them compete. Which units are
active is the paradigm's (``dlzoo.data.streams.StreamHeads``); the network always returns every logit.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ContinualMLP(nn.Module):
    """x (B, *input_shape) -> logits (B, num_outputs) through ``len(hidden)`` ReLU layers."""

    def __init__(self, *, input_shape: tuple[int, ...], hidden: tuple[int, ...], num_outputs: int) -> None:
        super().__init__()
        if num_outputs < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"num_outputs ({num_outputs}) and every hidden width ({hidden}) must be >= 1")
        widths = (math.prod(input_shape), *hidden)
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.features = nn.Sequential(*layers)  # (B, D) -> (B, hidden[-1])
        self.head = nn.Linear(widths[-1], num_outputs)  # every task's units: (B, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, num_outputs)
