"""A uniform replay buffer (Lin 1992; Mnih et al. 2015) in preallocated tensors.

Transitions (s, a, r, s', terminated) go into a ring of ``capacity`` slots. ``terminated`` is the
true end of an episode (bootstrap with 0); a time-limit truncation is *not* terminal, so the target
still bootstraps from s'. Everything is a tensor, so the buffer checkpoints with ``torch.save`` and
loads with ``weights_only=True``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class ReplayBatch(NamedTuple):
    obs: torch.Tensor  # (B, *obs_shape) float32
    actions: torch.Tensor  # (B,) int64 for discrete, (B, act_dim) float32 for continuous
    rewards: torch.Tensor  # (B,) float32
    next_obs: torch.Tensor  # (B, *obs_shape)
    terminated: torch.Tensor  # (B,) float32, 1.0 where s' is terminal


class ReplayBuffer:
    def __init__(
        self, capacity: int, obs_shape: tuple[int, ...], action_shape: tuple[int, ...], *, discrete: bool
    ) -> None:
        self.capacity = capacity
        self.obs = torch.zeros((capacity, *obs_shape))
        self.next_obs = torch.zeros((capacity, *obs_shape))
        self.actions = torch.zeros((capacity, *action_shape), dtype=torch.int64 if discrete else torch.float32)
        self.rewards = torch.zeros(capacity)
        self.terminated = torch.zeros(capacity)
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward: float, next_obs, terminated: bool) -> None:
        i = self.pos
        self.obs[i] = torch.as_tensor(obs)
        self.actions[i] = torch.as_tensor(action)
        self.rewards[i] = float(reward)
        self.next_obs[i] = torch.as_tensor(next_obs)
        self.terminated[i] = float(terminated)
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator) -> ReplayBatch:
        idx = torch.randint(0, self.size, (batch_size,), generator=generator)
        return ReplayBatch(
            self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx], self.terminated[idx]
        )

    def state_dict(self) -> dict[str, torch.Tensor]:
        n = self.size
        return {
            "obs": self.obs[:n].clone(),
            "next_obs": self.next_obs[:n].clone(),
            "actions": self.actions[:n].clone(),
            "rewards": self.rewards[:n].clone(),
            "terminated": self.terminated[:n].clone(),
            "pos": torch.tensor(self.pos),
            "size": torch.tensor(n),
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        n = int(state["size"])
        for name in ("obs", "next_obs", "actions", "rewards", "terminated"):
            getattr(self, name)[:n] = state[name]
        self.pos, self.size = int(state["pos"]), n
