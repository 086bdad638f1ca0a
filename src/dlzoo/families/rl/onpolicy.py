"""Plumbing shared by REINFORCE, A2C and PPO (``reinforce.py``, ``a2c.py``, ``ppo.py`` hold the algorithms).

What is the same for the three: acting with the actor-critic (a sample, its log-probability and V(s)),
the bootstrap value, the deterministic policy for evaluation and ``/act``, one clipped gradient step,
the learning-rate schedule and the checkpointed state. Each algorithm adds its ``Config`` and ``update``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import gymnasium as gym
import torch
from pydantic import Field
from torch import nn

from dlzoo.config import ConfigError, TrainConfig
from dlzoo.families.rl.model import sample_action
from dlzoo.paradigms import OnPolicyConfig
from dlzoo.protocols import Logs, OnPolicyObjective

if TYPE_CHECKING:  # importing Fabric takes seconds; the server imports this module but never trains
    from lightning_fabric import Fabric


class ActorCriticConfig(OnPolicyConfig):
    ent_coef: float = Field(0.0, ge=0, description="c_2: weight of the entropy bonus −c_2 H[π(·|s)] in the loss")
    vf_coef: float = Field(0.5, ge=0, description="c_1: weight of the value loss c_1 (V(s) − target)² in the loss")
    normalize_advantage: bool = Field(True, description="(Â − mean) / (std + 1e-8) over each (mini)batch")
    lr_schedule: Literal["constant", "linear"] = Field(
        "constant",
        description="'linear': lr = train.lr · (1 − steps / total_steps) before each update (SB3's lin_<lr>)",
    )


class ActorCriticObjective(OnPolicyObjective):
    """Acting, bootstrapping and stepping an actor-critic (model.py's Categorical/GaussianActorCritic)."""

    name = "on-policy"

    def __init__(
        self,
        cfg: ActorCriticConfig,
        model: nn.Module,
        fabric: Fabric,
        train_cfg: TrainConfig,
        env: gym.vector.VectorEnv,
    ) -> None:
        if fabric.world_size > 1:
            raise ConfigError(f"{self.name} runs in one process; got {fabric.world_size}: set train.devices=1")
        if train_cfg.precision not in ("32-true", "bf16-mixed", "auto"):
            raise ConfigError(
                f"{self.name} trains in float32 or under bf16 autocast (its losses and optimizer stay float32); "
                f"train.precision must be '32-true', 'bf16-mixed' or 'auto', got {train_cfg.precision!r}"
            )
        self.cfg, self.train_cfg = cfg, train_cfg
        self.device = fabric.device
        self.autocast = fabric.autocast  # the precision plugin's forward context (bf16 autocast, or nothing)
        self.model = model.to(self.device)
        self.params = list(self.model.parameters())  # walked once: the update clips their norm every step
        self.optimizer = self.make_optimizer()
        self.max_grad_norm = train_cfg.grad_clip if train_cfg.grad_clip is not None else float("inf")
        self.generator = torch.Generator(device=self.device).manual_seed(train_cfg.seed)  # minibatch shuffles
        self.updates = 0  # gradient steps so far

    def make_optimizer(self) -> torch.optim.Optimizer:
        """Adam with ε = 1e-5 (SB3 and CleanRL for PPO; torch's 1e-8 makes the first steps larger). fused: one
        kernel for all parameters (the same update; torch's CPU default loops over the tensors one by one)."""
        return torch.optim.Adam(self.params, lr=self.train_cfg.lr, eps=1e-5, fused=True)

    # -- acting (the rollout) -------------------------------------------------------------------
    def explore(self, obs: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with self.autocast():
            dist, value = self.model.distribution(obs)
        action = sample_action(dist, generator)  # (N,) or (N, action_dim)
        return action, dist.log_prob(action), value  # log π(a|s) (N,), V(s) (N,)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            return self.model.value(obs)  # (N,)

    @staticmethod
    def act(model: nn.Module, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic policy: argmax_a π(a|s), or μ(s) clipped to the action box."""
        return model.deterministic(obs)

    # -- learning -------------------------------------------------------------------------------
    def progress_remaining(self, step: int) -> float:
        """1 − steps / total_steps, what SB3's schedules read (1 at the start, 0 at the end)."""
        return max(0.0, 1.0 - step / self.cfg.total_steps)

    def set_lr(self, step: int) -> float:
        lr = self.train_cfg.lr * (self.progress_remaining(step) if self.cfg.lr_schedule == "linear" else 1.0)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def gradient_step(self, loss: torch.Tensor) -> torch.Tensor:
        """θ ← optimizer(θ, ∇L) with ‖∇L‖ clipped to train.grad_clip (SB3's max_grad_norm); the pre-clip norm."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(self.params, self.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        return norm.detach()

    def policy(self, obs: torch.Tensor) -> tuple[torch.distributions.Distribution, torch.Tensor]:
        """π_θ(·|s) and V(s) of a batch, the network under the run's precision (float32 distribution)."""
        with self.autocast():
            return self.model.distribution(obs)

    def update(self, rollout: Any, last_value: torch.Tensor, step: int) -> Logs:
        raise NotImplementedError

    def std_logs(self) -> Logs:
        """{"train/std": mean σ} of a Gaussian policy (how much it still explores); nothing for a categorical one."""
        log_std = self.model.state_dict().get("log_std")
        return {} if log_std is None else {"train/std": float(log_std.exp().mean())}

    # -- checkpoint ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "updates": torch.tensor(self.updates),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.updates = int(state["updates"])


def explained_variance(pred: torch.Tensor, target: torch.Tensor) -> Logs:
    """{"train/explained_variance": 1 − Var[target − pred] / Var[target]}: 1 is a perfect critic, 0 no
    better than a constant, < 0 worse; nothing when the targets are constant (the ratio is undefined)."""
    var = target.var()
    return {} if var == 0 else {"train/explained_variance": float(1 - (target - pred).var() / var)}
