"""What SAC and TD3 (and DDPG) share on the reinforcement paradigm: the replay schedule, Polyak targets.

The schedule is Stable-Baselines3's ``OffPolicyAlgorithm``, counted in environment steps t = 1, 2, ...:
while t <= ``learning_starts`` actions are uniform over the box (SB3 samples the action space); after
each step t > learning_starts with t % ``train_freq`` == 0, ``gradient_steps`` updates on batches of
``train.batch_size`` uniformly replayed transitions. The replay buffer stores the environment's
actions; the objectives map them to [-1, 1]^A (``ContinuousAgent.to_unit``) before the critics.

Target networks follow the online ones by Polyak averaging (Lillicrap et al. 2016):

    θ⁻ ← (1 − τ) θ⁻ + τ θ                                  (``polyak``; τ = ``task.tau``)

The algorithms' losses are in ``sac.py`` and ``td3.py``, each readable end to end.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field
from torch import nn

from dlzoo.config import ConfigError, TrainConfig
from dlzoo.data.replay import ReplayBatch, ReplayBuffer
from dlzoo.families.rl.continuous import ContinuousAgent
from dlzoo.optim import make_optimizer
from dlzoo.paradigms import RLConfig
from dlzoo.protocols import Logs

if TYPE_CHECKING:
    from lightning_fabric import Fabric


@torch.no_grad()
def polyak(target: nn.Module, online: nn.Module, tau: float) -> None:
    """θ⁻ ← (1 − τ) θ⁻ + τ θ for every parameter (one fused foreach op: θ⁻.lerp_(θ, τ))."""
    torch._foreach_lerp_(list(target.parameters()), list(online.parameters()), tau)


class OffPolicyConfig(RLConfig):
    learning_starts: int = Field(100, ge=0, description="environment steps of uniformly random actions first")
    train_freq: int = Field(1, ge=1, description="environment steps between training phases")
    gradient_steps: int = Field(1, ge=0, description="gradient updates per training phase")
    tau: float = Field(0.005, gt=0, le=1, description="Polyak coefficient τ of the target networks")


class ContinuousOffPolicy:
    """The shared half of SAC and TD3: checks, the behaviour policy's warm-up, the update schedule, state.

    Subclasses set ``self.targets`` (name -> (target, online) module pairs) and the optimizers in
    ``self.optimizers``, and implement ``policy_action`` (exploration after the warm-up) and
    ``gradient_step(batch, generator) -> logs``."""

    name = "off-policy"

    def __init__(self, cfg: Any, model: nn.Module, fabric: Fabric, train_cfg: TrainConfig, env: gym.Env) -> None:
        if not isinstance(env.action_space, gym.spaces.Box):
            raise ConfigError(
                f"{self.name} needs a continuous (Box) action space, got {env.action_space}; "
                "for discrete actions use dqn, ppo, a2c or reinforce"
            )
        if not isinstance(model, ContinuousAgent):
            raise ConfigError(f"{self.name} trains a ContinuousAgent (sac, td3, ddpg), got {type(model).__name__}")
        if fabric.world_size > 1:
            raise ConfigError(f"{self.name} runs in one process; got {fabric.world_size}: set train.devices=1")
        if train_cfg.precision not in ("32-true", "bf16-mixed", "auto"):
            raise ConfigError(
                f"{self.name} trains in float32 or under bf16 autocast; train.precision must be '32-true', "
                f"'bf16-mixed' or 'auto', got {train_cfg.precision!r}"
            )
        if train_cfg.scheduler != "none":
            raise ConfigError(f"{self.name} uses a constant learning rate: train.scheduler must be 'none'")
        self.cfg, self.train_cfg = cfg, train_cfg
        self.device = fabric.device
        self.autocast = fabric.autocast
        self.model = model.to(self.device)
        self.action_dim = int(np.prod(env.action_space.shape))
        self.max_grad_norm = train_cfg.grad_clip
        self.updates = 0  # gradient steps taken so far
        self.timings = {"forward": 0.0, "update": 0.0}  # seconds acting and learning (benchmarks/offpolicy_pendulum.py)

    def frozen_copy(self, module: nn.Module) -> nn.Module:
        return copy.deepcopy(module).requires_grad_(False)

    def optimizer(self, module: nn.Module) -> torch.optim.Optimizer:
        return make_optimizer(module.parameters(), self.train_cfg, fused=True)

    def step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, module: nn.Module | None) -> None:
        """One optimizer step on ``loss``; ``train.grad_clip`` clips the gradient norm of ``module``."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.max_grad_norm is not None and module is not None:
            nn.utils.clip_grad_norm_(module.parameters(), self.max_grad_norm)
        optimizer.step()

    # -- behaviour policy ---------------------------------------------------------------------
    def explore(self, obs: Any, step: int, generator: torch.Generator) -> np.ndarray:
        """The environment's action at 0-based step ``step``: uniform in the box during the warm-up."""
        t = time.perf_counter()
        if step < self.cfg.learning_starts:
            unit = torch.rand(self.action_dim, generator=generator) * 2.0 - 1.0
        else:
            with torch.no_grad():
                unit = self.policy_action(
                    torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None], generator
                )
            unit = unit[0].cpu()
        action = self.model.to_env(unit.to(self.model.action_low.device)).cpu().numpy()
        self.timings["forward"] += time.perf_counter() - t
        return action

    def policy_action(self, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def act(model: nn.Module, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic policy in the environment's box: obs (B, obs_dim) -> (B, A)."""
        return model.deterministic(obs)

    # -- learning -----------------------------------------------------------------------------
    def update(self, buffer: ReplayBuffer, step: int, generator: torch.Generator) -> Logs:
        """Called after environment step ``step`` (1-based) was stored in ``buffer``."""
        cfg = self.cfg
        if step <= cfg.learning_starts or step % cfg.train_freq or cfg.gradient_steps == 0:
            return {}
        t = time.perf_counter()
        logs: list[Logs] = []
        for _ in range(cfg.gradient_steps):
            b = buffer.sample(self.train_cfg.batch_size, generator)
            batch = ReplayBatch(
                b.obs.to(self.device),
                self.model.to_unit(b.actions.to(self.device)),  # environment box -> [-1, 1]^A
                b.rewards.to(self.device),
                b.next_obs.to(self.device),
                b.terminated.to(self.device),
            )
            logs.append(self.gradient_step(batch, generator))
        self.timings["update"] += time.perf_counter() - t
        if len(logs) == 1:
            return logs[0]
        keys = dict.fromkeys(k for log in logs for k in log)  # TD3 logs its actor loss on delayed steps only
        return {k: torch.stack([torch.as_tensor(log[k]) for log in logs if k in log]).mean() for k in keys}

    def gradient_step(self, batch: ReplayBatch, generator: torch.Generator) -> Logs:
        raise NotImplementedError

    # -- checkpoint ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "targets": {k: target.state_dict() for k, (target, _) in self.targets.items()},
            "optimizers": {k: opt.state_dict() for k, opt in self.optimizers.items()},
            "updates": torch.tensor(self.updates),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, (target, _) in self.targets.items():
            target.load_state_dict(state["targets"][k])
        for k, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][k])
        self.updates = int(state["updates"])
