"""Soft Actor-Critic with automatic entropy tuning (Haarnoja et al. 2018, "SAC: algorithms and applications").

Maximum-entropy RL maximises return plus the policy's entropy, weighted by a temperature α:

    J(π) = Σ_t E[ r(s_t, a_t) + α H(π(·|s_t)) ]

Its soft Bellman backup bootstraps from the soft value V(s') = E_{a'~π}[ Q(s', a') − α log π(a'|s') ].
With twin critics and Polyak targets (the clipped double-Q of TD3), one gradient step on a replayed batch
(s, a, r, s', d) is, in the order of Stable-Baselines3's ``SAC.train``:

    ã ~ π(·|s) (reparameterised: ã = tanh(μ + σ ε))                 a fresh action for the actor and α
    J(α) = −E[ log α · (log π(ã|s) + H̄) ]                            (temperature; H̄ = target_entropy = −A)
    y    = r + γ (1 − d) ( min_i Q_i⁻(s', a') − α log π(a'|s') ),   a' ~ π(·|s')     (soft target)
    J(Q) = ½ Σ_i E[ (Q_i(s, a) − y)² ]                                (critics)
    J(π) = E[ α log π(ã|s) − min_i Q_i(s, ã) ]                        (actor)
    θ⁻  ← (1 − τ) θ⁻ + τ θ                                           (critic targets, every target_update_interval)

The α of the critic and actor losses is the one before this step's temperature update (SB3's order).
log π of the tanh-squashed Gaussian is ``continuous.squashed_gaussian_log_prob``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import gymnasium as gym
import torch
from pydantic import Field
from torch import nn

from dlzoo.config import TrainConfig
from dlzoo.data.replay import ReplayBatch
from dlzoo.families.rl.offpolicy import ContinuousOffPolicy, OffPolicyConfig, polyak
from dlzoo.optim import make_optimizer
from dlzoo.protocols import Logs

if TYPE_CHECKING:
    from lightning_fabric import Fabric


class SAC(ContinuousOffPolicy):
    """SAC on a Box action space; see the module docstring for the losses and their order."""

    name = "SAC"

    class Config(OffPolicyConfig):
        ent_coef: Literal["auto"] | float = Field(
            "auto", description="temperature α: 'auto' learns it towards target_entropy; a number fixes it"
        )
        ent_coef_init: float = Field(1.0, gt=0, description="initial α when ent_coef is 'auto' (SB3: 1.0)")
        target_entropy: float | None = Field(
            None, description="H̄, the entropy α steers towards; None: −action_dim (Haarnoja et al.)"
        )
        target_update_interval: int = Field(1, ge=1, description="gradient steps between Polyak target updates")

    def __init__(self, cfg: SAC.Config, model: nn.Module, fabric: Fabric, train_cfg: TrainConfig, env: gym.Env) -> None:
        super().__init__(cfg, model, fabric, train_cfg, env)
        m = self.model
        self.target_critics = self.frozen_copy(m.critics)  # SAC keeps no actor target
        self.targets = {"critics": (self.target_critics, m.critics)}
        auto = cfg.ent_coef == "auto"
        init = cfg.ent_coef_init if auto else float(cfg.ent_coef)
        self.log_alpha = torch.tensor(math.log(init), device=self.device, requires_grad=auto)
        self.target_entropy = -float(self.action_dim) if cfg.target_entropy is None else cfg.target_entropy
        self.optimizers = {"actor": self.optimizer(m.actor), "critics": self.optimizer(m.critics)}
        if auto:
            self.optimizers["alpha"] = make_optimizer([self.log_alpha], train_cfg)

    def policy_action(self, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.model.actor.sample(obs, generator)[0]  # a ~ π(·|s), in [-1, 1]^A

    def gradient_step(self, batch: ReplayBatch, generator: torch.Generator) -> Logs:
        cfg, m = self.cfg, self.model
        with self.autocast():
            a_pi, log_pi = m.actor.sample(batch.obs, generator)  # ã ~ π(·|s): (B, A), (B,)
        alpha = self.log_alpha.detach().exp()
        logs: Logs = {"train/alpha": alpha, "train/entropy": -log_pi.detach().mean()}
        if "alpha" in self.optimizers:  # J(α) = −E[log α (log π(ã|s) + H̄)]
            alpha_loss = -(self.log_alpha * (log_pi.detach() + self.target_entropy)).mean()
            self.step(self.optimizers["alpha"], alpha_loss, None)
            logs["train/alpha_loss"] = alpha_loss.detach()

        with torch.no_grad(), self.autocast():  # y = r + γ(1 − d)(min_i Q_i⁻(s', a') − α log π(a'|s'))
            a_next, log_next = m.actor.sample(batch.next_obs, generator)
            q_next = self.target_critics(batch.next_obs, a_next).float().min(0).values  # (B,)
            y = batch.rewards + cfg.gamma * (1.0 - batch.terminated) * (q_next - alpha * log_next)
        with self.autocast():
            q = m.critics(batch.obs, batch.actions).float()  # (n, B): Q_i(s, a)
        critic_loss = 0.5 * (q - y).square().mean(1).sum()  # ½ Σ_i MSE(Q_i, y)
        self.step(self.optimizers["critics"], critic_loss, m.critics)

        m.critics.requires_grad_(False)  # the actor's gradient flows through the critics, not into them
        with self.autocast():
            q_pi = m.critics(batch.obs, a_pi).float().min(0).values  # (B,): min_i Q_i(s, ã)
        actor_loss = (alpha * log_pi - q_pi).mean()
        self.step(self.optimizers["actor"], actor_loss, m.actor)
        m.critics.requires_grad_(True)

        self.updates += 1
        if self.updates % cfg.target_update_interval == 0:
            polyak(self.target_critics, m.critics, cfg.tau)
        return logs | {
            "train/critic_loss": critic_loss.detach(),
            "train/actor_loss": actor_loss.detach(),
            "train/q_mean": q.detach().mean(),
        }

    def state_dict(self) -> dict[str, Any]:
        return super().state_dict() | {"log_alpha": self.log_alpha.detach().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
