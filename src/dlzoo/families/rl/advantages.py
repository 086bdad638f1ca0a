"""Returns and advantages of a rollout, shared by REINFORCE, A2C and PPO.

Every input is (T, N): T steps of N environments. ``next_values`` is V(s_{t+1}) within step t's episode
(``dlzoo.data.rollout.RolloutBuffer.next_values``), so the two ways an episode ends differ in one place:
a terminated step (terminated_t = 1) never bootstraps, a truncated one (time limit) bootstraps from the
value of the observation it was cut at, and either one stops the recursion from the next episode.
"""

from __future__ import annotations

import torch


def discounted_returns(
    rewards: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    *,
    gamma: float,
) -> torch.Tensor:
    """Monte-Carlo returns G_t, (T, N), bootstrapped only where the data stops before the episode does.

    G_t = r_t + γ (1 − term_t) · ( V(s_{t+1})  if truncated_t or t = T−1
                                   G_{t+1}      otherwise )
    """
    T = rewards.shape[0]
    returns = torch.zeros_like(rewards)
    following = next_values[-1]  # (N,) V(s_T) at the rollout's cut
    for t in reversed(range(T)):
        cut = truncated[t].bool() | (t == T - 1)
        following = torch.where(cut, next_values[t], following)  # (N,)
        returns[t] = rewards[t] + gamma * (1.0 - terminated[t]) * following
        following = returns[t]
    return returns


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    *,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """Generalized advantage estimation (Schulman et al. 2016, Eq. 11-16), (T, N).

        δ_t = r_t + γ (1 − term_t) V(s_{t+1}) − V(s_t)          one-step TD error
        Â_t = δ_t + γ λ (1 − done_t) Â_{t+1},  done_t = term_t ∨ trunc_t,  Â_T = 0

    λ = 0 gives the TD error (low variance, biased by V); λ = 1 the Monte-Carlo return minus V(s_t).
    The value targets are Â_t + V(s_t) (the λ-return).
    """
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values  # (T, N)
    carry = (1.0 - torch.maximum(terminated, truncated)) * gamma * lam  # (T, N)
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])  # (N,)
    for t in reversed(range(rewards.shape[0])):
        running = deltas[t] + carry[t] * running
        advantages[t] = running
    return advantages


def normalize(advantages: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(Â − mean Â) / (std Â + ε) over the (mini)batch: the same policy step size whatever the reward scale."""
    if advantages.numel() < 2:
        return advantages  # the standard deviation of one number is undefined (SB3 skips it too)
    return (advantages - advantages.mean()) / (advantages.std() + eps)
