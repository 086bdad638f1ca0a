"""REINFORCE with a learned baseline (Williams 1992; Sutton & Barto 2018, §13.4).

The policy-gradient theorem (Sutton et al. 2000) writes the gradient of the expected return J(θ) as

    ∇_θ J(θ) = E_π[ Σ_t ∇_θ log π_θ(a_t|s_t) (G_t − b(s_t)) ]

for any baseline b that does not depend on a_t; REINFORCE estimates it from sampled returns
G_t = Σ_k γ^k r_{t+k}, with b(s) = V_φ(s) fitted to the same returns by regression. Per rollout,
one gradient step on

    L = −E_t[ log π_θ(a_t|s_t) (G_t − V_φ(s_t)) ] + c_1 E_t[ (V_φ(s_t) − G_t)² ] − c_2 E_t[ H[π_θ(·|s_t)] ]

G_t runs to the episode's end within the rollout; where the data stops first (the rollout's cut, a
time limit) it is bootstrapped from V (``advantages.discounted_returns``). With ``n_steps`` longer than
the episodes, that is the textbook Monte-Carlo estimator; the critic only ever acts as the baseline
(unlike A2C, whose targets bootstrap at every step when λ < 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from dlzoo.data.rollout import RolloutBuffer
from dlzoo.families.rl.advantages import discounted_returns, normalize
from dlzoo.families.rl.onpolicy import ActorCriticConfig, ActorCriticObjective, explained_variance
from dlzoo.protocols import Logs


class Reinforce(ActorCriticObjective):
    """REINFORCE with a value baseline on discrete or continuous actions; see the module docstring."""

    name = "reinforce"

    class Config(ActorCriticConfig):
        n_steps: int = Field(
            512, ge=1, description="steps per environment per rollout: longer rollouts cut fewer returns"
        )

    def update(self, rollout: RolloutBuffer, last_value: torch.Tensor, step: int) -> Logs:
        cfg = self.cfg
        lr = self.set_lr(step)
        returns = discounted_returns(
            rollout.rewards, rollout.next_values(last_value), rollout.terminated, rollout.truncated, gamma=cfg.gamma
        ).flatten()  # (T·N,) G_t
        dist, values = self.policy(rollout.obs.flatten(0, 1))
        adv = returns - values.detach()  # G_t − b(s_t): the baseline is a constant in the policy term
        if cfg.normalize_advantage:
            adv = normalize(adv)
        log_prob = dist.log_prob(rollout.actions.flatten(0, 1))  # (T·N,)
        pg_loss = -(log_prob * adv).mean()
        vf_loss = F.mse_loss(values, returns)
        entropy = dist.entropy().mean()
        loss = pg_loss + cfg.vf_coef * vf_loss - cfg.ent_coef * entropy
        norm = self.gradient_step(loss)
        return {
            "train/policy_loss": float(pg_loss.detach()),
            "train/value_loss": float(vf_loss.detach()),
            "train/entropy": float(entropy.detach()),
            "train/grad_norm": float(norm),
            "train/lr": lr,
            **explained_variance(values.detach(), returns),
            **self.std_logs(),
        }
