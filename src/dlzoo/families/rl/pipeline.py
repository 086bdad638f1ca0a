"""Serving of RL policies: ``/act`` returns the greedy action of each observation."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from dlzoo.protocols import Pipeline
from dlzoo.validation import check_finite_output


class DQNPipeline(Pipeline):
    """``POST /v1/models/{name}/act {"inputs": observations}`` -> argmax_a Q(s, a) per observation."""

    verbs: ClassVar[tuple[str, ...]] = ("act",)

    @staticmethod
    def act(model: nn.Module, obs: torch.Tensor) -> torch.Tensor:
        """Greedy policy: obs (B, obs_dim) -> actions (B,) int64, argmax_a Q(s, a). Observations whose
        Q-values overflow are an error (NonFiniteOutput -> 422): argmax over NaN would answer action 0."""
        q = model(obs)  # (B, num_actions)
        check_finite_output(obs, q)
        return q.argmax(-1)


class PolicyPipeline(Pipeline):
    """``POST /v1/models/{name}/act {"inputs": observations}`` -> the deterministic action of an actor-critic:
    argmax_a π(a|s) (discrete, int64 (B,)) or μ(s) clipped to the action box (continuous, (B, action_dim)).
    The server checks the observations' shape and refuses NaN before this is called."""

    verbs: ClassVar[tuple[str, ...]] = ("act",)

    @staticmethod
    def act(model: nn.Module, obs: torch.Tensor) -> torch.Tensor:
        check_finite_output(obs, model(obs)[0])  # logits or μ(s): an argmax over NaN would answer action 0
        return model.deterministic(obs)
