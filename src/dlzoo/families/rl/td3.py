"""TD3: Twin Delayed DDPG (Fujimoto et al. 2018); DDPG (Lillicrap et al. 2016) is one setting of it.

The deterministic policy gradient (Silver et al. 2014) trains μ_φ(s) up the critic's slope:

    ∇_φ J = E_s[ ∇_a Q(s, a)|_{a=μ(s)} ∇_φ μ_φ(s) ]     ⇔    J(φ) = −E_s[ Q_1(s, μ_φ(s)) ]

DDPG's critic regresses on y = r + γ(1 − d) Q⁻(s', μ⁻(s')) and overestimates (the actor seeks the
critic's errors). TD3's three fixes, one gradient step on a replayed batch (s, a, r, s', d):

    ε  = clip(N(0, σ̃²), −c, c)                                       (target policy smoothing)
    a' = clip(μ⁻(s') + ε, −1, 1)
    y  = r + γ (1 − d) min_{i=1,2} Q_i⁻(s', a')                      (clipped double-Q)
    J(Q) = Σ_i E[ (Q_i(s, a) − y)² ]                                  (SB3: the sum of the MSEs)
    every policy_delay-th step:                                       (delayed actor and target updates)
        J(φ) = −E[ Q_1(s, μ_φ(s)) ];  θ⁻ ← (1 − τ)θ⁻ + τθ;  φ⁻ ← (1 − τ)φ⁻ + τφ

Exploration adds N(0, action_noise²) to μ(s) in [-1, 1]^A and clips. DDPG is ``n_critics: 1`` (model),
``policy_delay: 1`` and ``target_policy_noise: 0`` (task): the same code with the fixes turned off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gymnasium as gym
import torch
from pydantic import Field
from torch import nn

from dlzoo.config import TrainConfig
from dlzoo.data.replay import ReplayBatch
from dlzoo.families.rl.offpolicy import ContinuousOffPolicy, OffPolicyConfig, polyak
from dlzoo.protocols import Logs

if TYPE_CHECKING:
    from lightning_fabric import Fabric


@torch.no_grad()
def smoothed_target(
    batch: ReplayBatch,
    *,
    target_actor: nn.Module,
    target_critics: nn.Module,
    gamma: float,
    noise_std: float,
    noise_clip: float,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """y = r + γ(1 − d) min_i Q_i⁻(s', clip(μ⁻(s') + clip(σ̃ ε, −c, c), −1, 1)), ε ~ N(0, I): (B,)."""
    mu_next = target_actor(batch.next_obs).float()  # (B, A)
    eps = torch.randn(mu_next.shape, generator=generator, device=mu_next.device)
    noise = (noise_std * eps).clamp(-noise_clip, noise_clip)
    a_next = (mu_next + noise).clamp(-1.0, 1.0)
    q_next = target_critics(batch.next_obs, a_next).float().min(0).values  # (B,)
    return batch.rewards + gamma * (1.0 - batch.terminated) * q_next


class TD3(ContinuousOffPolicy):
    """TD3 (and DDPG) on a Box action space; see the module docstring for the losses."""

    name = "TD3"

    class Config(OffPolicyConfig):
        policy_delay: int = Field(2, ge=1, description="critic updates per actor and target update (DDPG: 1)")
        target_policy_noise: float = Field(0.2, ge=0, description="σ̃ of the target smoothing noise (DDPG: 0)")
        target_noise_clip: float = Field(0.5, ge=0, description="c, the bound of the smoothing noise")
        action_noise: float = Field(0.1, ge=0, description="σ of the Gaussian exploration noise in [-1, 1]^A")

    def __init__(self, cfg: TD3.Config, model: nn.Module, fabric: Fabric, train_cfg: TrainConfig, env: gym.Env) -> None:
        super().__init__(cfg, model, fabric, train_cfg, env)
        m = self.model
        self.target_actor, self.target_critics = self.frozen_copy(m.actor), self.frozen_copy(m.critics)
        self.targets = {"actor": (self.target_actor, m.actor), "critics": (self.target_critics, m.critics)}
        self.optimizers = {"actor": self.optimizer(m.actor), "critics": self.optimizer(m.critics)}

    def policy_action(self, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        mu = self.model.actor(obs).float()  # (1, A)
        noise = self.cfg.action_noise * torch.randn(mu.shape, generator=generator, device=mu.device)
        return (mu + noise).clamp(-1.0, 1.0)

    def gradient_step(self, batch: ReplayBatch, generator: torch.Generator) -> Logs:
        cfg, m = self.cfg, self.model
        with self.autocast():
            y = smoothed_target(
                batch,
                target_actor=self.target_actor,
                target_critics=self.target_critics,
                gamma=cfg.gamma,
                noise_std=cfg.target_policy_noise,
                noise_clip=cfg.target_noise_clip,
                generator=generator,
            )
            q = m.critics(batch.obs, batch.actions).float()  # (n, B)
        critic_loss = (q - y).square().mean(1).sum()  # Σ_i MSE(Q_i, y)
        self.step(self.optimizers["critics"], critic_loss, m.critics)
        self.updates += 1
        logs: Logs = {"train/critic_loss": critic_loss.detach(), "train/q_mean": q.detach().mean()}
        if self.updates % cfg.policy_delay:
            return logs
        m.critics.requires_grad_(False)  # the policy gradient flows through Q_1, not into it
        with self.autocast():
            actor_loss = -m.critics.first(batch.obs, m.actor(batch.obs)).float().mean()  # −E[Q_1(s, μ(s))]
        self.step(self.optimizers["actor"], actor_loss, m.actor)
        m.critics.requires_grad_(True)
        polyak(self.target_critics, m.critics, cfg.tau)
        polyak(self.target_actor, m.actor, cfg.tau)
        return logs | {"train/actor_loss": actor_loss.detach()}
