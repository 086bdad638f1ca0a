"""Proximal Policy Optimization (Schulman et al. 2017), PPO-Clip, as Stable-Baselines3 and CleanRL run it.

Policy gradients step along ∇_θ E[log π_θ(a|s) Â]; taking many such steps on one batch of old data
moves π_θ far from the policy π_old that collected it, where Â no longer describes it. PPO optimises a
surrogate whose gain stops once the probability ratio r_t(θ) = π_θ(a_t|s_t) / π_old(a_t|s_t) leaves
[1 − ε, 1 + ε] in the direction Â favours (Schulman et al. 2017, Eq. 7):

    L^CLIP(θ) = E_t [ min( r_t(θ) Â_t,  clip(r_t(θ), 1 − ε, 1 + ε) Â_t ) ]

so several epochs of minibatch steps on one rollout stay near π_old: a cheap stand-in for TRPO's trust
region KL[π_old ‖ π_θ] ≤ δ (the logged ``approx_kl`` watches that KL). The whole loss (Eq. 9) adds the
critic's regression and an entropy bonus:

    L(θ) = −L^CLIP(θ) + c_1 L^VF(θ) − c_2 H[π_θ(·|s_t)]

with Â_t from GAE(γ, λ) (``advantages.gae``), value targets R_t = Â_t + V_old(s_t), and optionally the
value clipping of OpenAI Baselines (L^VF = max of the clipped and unclipped squared errors).

Per update (SB3's ``PPO.train``): lr and ε from their schedules at 1 − steps/total_steps; ``n_epochs``
passes over the rollout in shuffled minibatches of ``train.batch_size`` transitions; the advantages
normalised per minibatch; the gradient norm clipped to ``train.grad_clip`` (SB3's max_grad_norm 0.5).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import gymnasium as gym
import torch
from pydantic import Field
from torch import nn

from dlzoo.config import ConfigError, TrainConfig
from dlzoo.data.rollout import RolloutBuffer
from dlzoo.families.rl.advantages import gae, normalize
from dlzoo.families.rl.onpolicy import ActorCriticConfig, ActorCriticObjective, explained_variance
from dlzoo.protocols import Logs

if TYPE_CHECKING:  # importing Fabric takes seconds; the server imports this module but never trains
    from lightning_fabric import Fabric


def clipped_surrogate(ratio: torch.Tensor, advantages: torch.Tensor, *, clip_range: float) -> torch.Tensor:
    """−L^CLIP: the mean of −min(r Â, clip(r, 1 − ε, 1 + ε) Â) (a loss to minimise), from (B,) ratios."""
    unclipped = ratio * advantages  # (B,)
    clipped = torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range) * advantages  # (B,)
    return -torch.min(unclipped, clipped).mean()


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, targets: torch.Tensor, *, clip_range_vf: float | None
) -> torch.Tensor:
    """L^VF, from (B,) tensors. Unclipped: mean (V − R)². Clipped (OpenAI Baselines' ppo2, CleanRL):
    V_clip = V_old + clip(V − V_old, −ε_v, ε_v);  mean max((V − R)², (V_clip − R)²)."""
    err = (values - targets).square()  # (B,)
    if clip_range_vf is None:
        return err.mean()
    v_clip = old_values + torch.clamp(values - old_values, -clip_range_vf, clip_range_vf)  # (B,)
    return torch.max(err, (v_clip - targets).square()).mean()


class PPO(ActorCriticObjective):
    """PPO-Clip on discrete or continuous actions; see the module docstring for the loss and schedule."""

    name = "ppo"

    class Config(ActorCriticConfig):
        n_epochs: int = Field(10, ge=1, description="passes over each rollout (SB3: n_epochs)")
        gae_lambda: float = Field(0.95, ge=0, le=1, description="λ of GAE: 0 the TD error, 1 the Monte-Carlo return")
        clip_range: float = Field(0.2, gt=0, description="ε: the probability ratio's clip range [1 − ε, 1 + ε]")
        clip_range_schedule: Literal["constant", "linear"] = Field(
            "constant", description="'linear': ε · (1 − steps / total_steps) at each update (SB3's lin_<ε>)"
        )
        clip_range_vf: float | None = Field(
            None, gt=0, description="ε_v: clip V − V_old to [−ε_v, ε_v] in the value loss (None: no value clipping)"
        )

    def __init__(
        self, cfg: PPO.Config, model: nn.Module, fabric: Fabric, train_cfg: TrainConfig, env: gym.vector.VectorEnv
    ) -> None:
        rollout = cfg.n_envs * cfg.n_steps
        if train_cfg.batch_size > rollout:
            raise ConfigError(
                f"train.batch_size={train_cfg.batch_size} exceeds a rollout of n_envs x n_steps = {rollout}"
            )
        super().__init__(cfg, model, fabric, train_cfg, env)

    def update(self, rollout: RolloutBuffer, last_value: torch.Tensor, step: int) -> Logs:
        cfg = self.cfg
        T, N = rollout.n_steps, rollout.n_envs
        batch_size = self.train_cfg.batch_size
        lr = self.set_lr(step)
        clip = cfg.clip_range * (self.progress_remaining(step) if cfg.clip_range_schedule == "linear" else 1.0)
        # Â_t = Σ_l (γλ)^l δ_{t+l};  R_t = Â_t + V_old(s_t)
        adv = gae(
            rollout.rewards,
            rollout.values,
            rollout.next_values(last_value),
            rollout.terminated,
            rollout.truncated,
            gamma=cfg.gamma,
            lam=cfg.gae_lambda,
        )  # (T, N)
        targets = adv + rollout.values  # (T, N)
        # flatten time and environments: (T·N, ...)
        obs, actions = rollout.obs.flatten(0, 1), rollout.actions.flatten(0, 1)
        old_log_probs, old_values = rollout.log_probs.flatten(), rollout.values.flatten()
        adv, targets = adv.flatten(), targets.flatten()

        sums: dict[str, list[torch.Tensor]] = {k: [] for k in ("pg", "vf", "ent", "kl", "clipped", "norm")}
        for _ in range(cfg.n_epochs):
            order = torch.randperm(T * N, generator=self.generator, device=self.device)
            for start in range(0, T * N, batch_size):  # the last minibatch is smaller unless batch_size divides T·N
                idx = order[start : start + batch_size]
                dist, values = self.policy(obs[idx])
                log_prob = dist.log_prob(actions[idx])  # (B,)
                a = normalize(adv[idx]) if cfg.normalize_advantage else adv[idx]  # (B,)
                log_ratio = log_prob - old_log_probs[idx]
                ratio = log_ratio.exp()  # r_t(θ) = π_θ(a|s) / π_old(a|s)
                pg_loss = clipped_surrogate(ratio, a, clip_range=clip)
                vf_loss = value_loss(values, old_values[idx], targets[idx], clip_range_vf=cfg.clip_range_vf)
                entropy = dist.entropy().mean()
                # L = −L^CLIP + c_1 L^VF − c_2 H
                loss = pg_loss + cfg.vf_coef * vf_loss - cfg.ent_coef * entropy
                norm = self.gradient_step(loss)
                with torch.no_grad():  # KL[π_old ‖ π_θ] ≈ E[(r − 1) − log r] (Schulman's k3 estimator, unbiased)
                    sums["kl"].append(((ratio - 1) - log_ratio).mean())
                    sums["clipped"].append(((ratio - 1).abs() > clip).float().mean())
                sums["pg"].append(pg_loss.detach())
                sums["vf"].append(vf_loss.detach())
                sums["ent"].append(entropy.detach())
                sums["norm"].append(norm)
        mean = {k: float(torch.stack(v).mean()) for k, v in sums.items()}
        return {
            "train/policy_loss": mean["pg"],
            "train/value_loss": mean["vf"],
            "train/entropy": mean["ent"],
            "train/approx_kl": mean["kl"],
            "train/clip_fraction": mean["clipped"],
            "train/grad_norm": mean["norm"],
            "train/lr": lr,
            "train/clip_range": clip,
            **explained_variance(old_values, targets),
            **self.std_logs(),
        }
