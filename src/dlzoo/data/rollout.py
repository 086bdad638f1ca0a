"""A rollout buffer for on-policy RL: ``n_steps`` steps of ``n_envs`` environments, in preallocated tensors.

Step t of environment i stores (s_t, a_t, log π(a_t|s_t), V(s_t), r_t, terminated_t, truncated_t) and,
for a truncated episode, V(s_final): the value of the observation the time limit cut off (vector
environments reset in the same step, so s_{t+1} is already the next episode's first observation).
``next_values(last_value)`` assembles V(s_{t+1}) of the *same* episode for every step, which is all the
advantage estimators need (families/rl/advantages.py): a terminated episode does not bootstrap, a
truncated one bootstraps from V(s_final), and the rollout's cut bootstraps from V(s_T) = ``last_value``.
"""

from __future__ import annotations

from typing import Any

import torch


class RolloutBuffer:
    """Shapes: obs (T, N, *obs_shape); actions (T, N) int64 or (T, N, action_dim); the rest (T, N) float32."""

    def __init__(
        self, n_steps: int, n_envs: int, obs_shape: tuple[int, ...], action_shape: tuple[int, ...], *, discrete: bool
    ) -> None:
        T, N = n_steps, n_envs
        self.n_steps, self.n_envs = T, N
        self.obs = torch.zeros((T, N, *obs_shape))
        self.actions = torch.zeros((T, N, *action_shape), dtype=torch.int64 if discrete else torch.float32)
        self.log_probs = torch.zeros(T, N)  # log π_old(a_t | s_t), the behaviour policy's
        self.values = torch.zeros(T, N)  # V_old(s_t)
        self.rewards = torch.zeros(T, N)
        self.terminated = torch.zeros(T, N)  # 1.0: s_{t+1} is terminal (no bootstrap)
        self.truncated = torch.zeros(T, N)  # 1.0: a time limit ended the episode (bootstrap from V(s_final))
        self.final_values = torch.zeros(T, N)  # V(s_final) where truncated, else 0
        self.pos = 0

    def add(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        log_probs: torch.Tensor,
        values: torch.Tensor,
        rewards: torch.Tensor,
        terminated: torch.Tensor,
        truncated: torch.Tensor,
    ) -> None:
        t = self.pos
        if t >= self.n_steps:
            raise IndexError(f"the rollout buffer is full ({self.n_steps} steps); call reset() after the update")
        self.obs[t], self.actions[t], self.log_probs[t], self.values[t] = obs, actions, log_probs, values
        self.rewards[t], self.terminated[t], self.truncated[t] = rewards, terminated, truncated
        self.final_values[t] = 0.0
        self.pos = t + 1

    def set_final_values(self, env_mask: torch.Tensor, values: torch.Tensor) -> None:
        """V(s_final) of the environments ``env_mask`` (N,) bool truncated at the last added step."""
        self.final_values[self.pos - 1, env_mask] = values

    def full(self) -> bool:
        return self.pos == self.n_steps

    def reset(self) -> None:
        self.pos = 0

    def next_values(self, last_value: torch.Tensor) -> torch.Tensor:
        """V(s_{t+1}) within the episode of step t, (T, N); ``last_value``: V(s_T) of the rollout's cut, (N,).

        next_t = V(s_{t+1})      when the episode goes on (t < T-1: the next stored value; t = T-1: last_value)
               = V(s_final)      when a time limit truncated it at t
        (a terminated step's entry is never used: the estimators multiply it by 1 - terminated_t)."""
        following = torch.cat([self.values[1:], last_value[None]])  # (T, N)
        return torch.where(self.truncated.bool(), self.final_values, following)

    def state_dict(self) -> dict[str, Any]:
        names = ("obs", "actions", "log_probs", "values", "rewards", "terminated", "truncated", "final_values")
        return {**{k: getattr(self, k) for k in names}, "pos": torch.tensor(self.pos)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            if k == "pos":
                self.pos = int(v)
            else:
                getattr(self, k).copy_(v)
