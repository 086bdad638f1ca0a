"""Advantage actor-critic, A2C: the synchronous variant of A3C (Mnih et al. 2016), as Stable-Baselines3 runs it.

Every ``n_steps`` steps of the ``n_envs`` environments, one gradient step on the whole rollout:

    L(θ) = −E_t[ log π_θ(a_t|s_t) Â_t ] + c_1 E_t[ (V_θ(s_t) − R_t)² ] − c_2 E_t[ H[π_θ(·|s_t)] ]

with Â_t from GAE(γ, λ) (SB3's A2C default λ = 1: the n-step return R_t minus V(s_t), bootstrapped
from V at the rollout's cut, Mnih et al. 2016 Alg. S3) and R_t = Â_t + V_old(s_t). The advantage is a
constant in the policy term (a baseline that does not depend on the action leaves the gradient
unbiased and lowers its variance). The optimizer is RMSprop with α = 0.99, ε = 1e-5 (SB3's defaults,
after the paper's shared RMSprop); the gradient norm is clipped to ``train.grad_clip`` (SB3: 0.5).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from dlzoo.data.rollout import RolloutBuffer
from dlzoo.families.rl.advantages import gae, normalize
from dlzoo.families.rl.onpolicy import ActorCriticConfig, ActorCriticObjective, explained_variance
from dlzoo.protocols import Logs


class A2C(ActorCriticObjective):
    """A2C on discrete or continuous actions; see the module docstring for the loss."""

    name = "a2c"

    class Config(ActorCriticConfig):
        n_steps: int = Field(5, ge=1, description="steps per environment per rollout (SB3's A2C: 5)")
        gae_lambda: float = Field(1.0, ge=0, le=1, description="λ of GAE (1: n-step returns, as SB3's A2C default)")
        normalize_advantage: bool = Field(False, description="(Â − mean) / (std + 1e-8) over the rollout (SB3: off)")
        optimizer: Literal["rmsprop", "adam"] = Field(
            "rmsprop", description="'rmsprop': α = 0.99, ε = 1e-5 (SB3's A2C); 'adam': ε = 1e-5"
        )

    def make_optimizer(self) -> torch.optim.Optimizer:
        if self.cfg.optimizer == "rmsprop":
            return torch.optim.RMSprop(self.params, lr=self.train_cfg.lr, alpha=0.99, eps=1e-5, foreach=True)
        return super().make_optimizer()

    def update(self, rollout: RolloutBuffer, last_value: torch.Tensor, step: int) -> Logs:
        cfg = self.cfg
        lr = self.set_lr(step)
        adv = gae(
            rollout.rewards,
            rollout.values,
            rollout.next_values(last_value),
            rollout.terminated,
            rollout.truncated,
            gamma=cfg.gamma,
            lam=cfg.gae_lambda,
        ).flatten()  # (T·N,)
        targets = adv + rollout.values.flatten()  # (T·N,) R_t = Â_t + V_old(s_t)
        if cfg.normalize_advantage:
            adv = normalize(adv)
        dist, values = self.policy(rollout.obs.flatten(0, 1))
        log_prob = dist.log_prob(rollout.actions.flatten(0, 1))  # (T·N,)
        pg_loss = -(log_prob * adv).mean()  # −E[log π(a|s) Â]
        vf_loss = F.mse_loss(values, targets)  # E[(V(s) − R)²]
        entropy = dist.entropy().mean()
        loss = pg_loss + cfg.vf_coef * vf_loss - cfg.ent_coef * entropy
        norm = self.gradient_step(loss)
        return {
            "train/policy_loss": float(pg_loss.detach()),
            "train/value_loss": float(vf_loss.detach()),
            "train/entropy": float(entropy.detach()),
            "train/grad_norm": float(norm),
            "train/lr": lr,
            **explained_variance(rollout.values.flatten(), targets),
            **self.std_logs(),
        }
