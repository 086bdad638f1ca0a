"""Serving of RL policies: ``/act`` returns the greedy action of each observation."""

from __future__ import annotations

from typing import ClassVar

from dlzoo.families.rl.objective import DQN
from dlzoo.protocols import Pipeline


class DQNPipeline(Pipeline):
    """``POST /v1/models/{name}/act {"inputs": observations}`` -> argmax_a Q(s, a) per observation."""

    verbs: ClassVar[tuple[str, ...]] = ("act",)
    act = staticmethod(DQN.act)
