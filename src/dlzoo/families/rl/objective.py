"""Deep Q-Networks (Mnih et al. 2015) with the optional Double DQN target (van Hasselt et al. 2016).

Q-learning (Watkins 1989) learns the optimal action values, the fixed point of the Bellman equation

    Q*(s, a) = E_{s'} [ r + γ max_a' Q*(s', a') | s, a ]

DQN fits a network Q(s, a; θ) to it by regression on sampled one-step targets, with two devices
that keep the regression stable: transitions are drawn uniformly from a replay buffer D (which
breaks the correlation of consecutive steps), and the targets come from a copy θ⁻ of the network
that is refreshed only every ``target_update_interval`` environment steps (Mnih et al. 2015, Eq. 2):

    L(θ) = E_{(s,a,r,s',d)~U(D)} [ ℓ( r + γ (1 − d) max_a' Q(s', a'; θ⁻) − Q(s, a; θ) ) ]

with ℓ the Huber loss (the paper clips the error's gradient to [−1, 1], which is the same thing).
Double DQN chooses the next action with the online network and evaluates it with the target
network, which removes most of the max operator's overestimation (van Hasselt et al. 2016).

The schedule is Stable-Baselines3's (``stable_baselines3/dqn/dqn.py``), counted in environment
steps t = 1, 2, ...: actions are uniformly random while t <= learning_starts, then ε-greedy with ε
annealed linearly over ``exploration_fraction`` of the run; θ⁻ ← θ when t % target_update_interval
== 0 (SB3: ``_n_calls % max(target_update_interval // n_envs, 1)``, one env here); after the
target check, when t > learning_starts and t % train_freq == 0, ``gradient_steps`` updates of
``train.batch_size`` transitions. The optimizer, learning rate, batch size and gradient clipping
are the loop's settings (``train.optimizer``, ``train.lr``, ``train.batch_size``, ``train.grad_clip``).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Literal

import gymnasium as gym
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from dlzoo.config import ConfigError, TrainConfig
from dlzoo.data.replay import ReplayBatch, ReplayBuffer
from dlzoo.optim import make_optimizer
from dlzoo.paradigms import RLConfig
from dlzoo.protocols import Logs, ReinforcementObjective

if TYPE_CHECKING:  # importing Fabric takes seconds; the server imports this module but never trains
    from lightning_fabric import Fabric


def linear_epsilon(step: int, *, initial: float, final: float, fraction: float, total_steps: int) -> float:
    """ε(t) = ε_0 + (ε_1 − ε_0) · min(1, t / (fraction · T)): SB3's ``LinearSchedule``."""
    horizon = fraction * total_steps
    if step >= horizon:
        return final
    return initial + (final - initial) * step / horizon


@torch.no_grad()
def td_target(batch: ReplayBatch, *, online: nn.Module, target: nn.Module, gamma: float, double: bool) -> torch.Tensor:
    """One-step TD targets y, (B,). ``terminated`` (not time-limit truncation) stops the bootstrap."""
    if double:
        # a* = argmax_a' Q(s', a'; θ);  y = r + γ (1 − d) Q(s', a*; θ⁻)          (van Hasselt et al. 2016)
        a_star = online(batch.next_obs).argmax(1, keepdim=True)  # (B, 1)
        next_q = target(batch.next_obs).gather(1, a_star).squeeze(1)  # (B,)
    else:
        # y = r + γ (1 − d) max_a' Q(s', a'; θ⁻)                                 (Mnih et al. 2015, Eq. 2)
        next_q = target(batch.next_obs).max(1).values  # (B,)
    return batch.rewards + gamma * (1.0 - batch.terminated) * next_q  # (B,)


class DQN(ReinforcementObjective):
    """DQN on a discrete-action gymnasium environment; see the module docstring for the schedule."""

    class Config(RLConfig):
        learning_starts: int = Field(
            1000, ge=0, description="environment steps of uniformly random actions before the first update"
        )
        train_freq: int = Field(4, ge=1, description="environment steps between training phases")
        gradient_steps: int = Field(1, ge=0, description="gradient updates per training phase")
        target_update_interval: int = Field(
            10_000, ge=1, description="environment steps between copies θ⁻ ← θ of the online network"
        )
        exploration_fraction: float = Field(
            0.1, ge=0, le=1, description="fraction of total_steps over which ε anneals from initial to final"
        )
        exploration_initial_eps: float = Field(1.0, ge=0, le=1, description="ε at the start of the anneal")
        exploration_final_eps: float = Field(0.05, ge=0, le=1, description="ε after the anneal")
        double_dqn: bool = Field(False, description="Double DQN target: online argmax, target evaluation")
        lr_schedule: Literal["constant", "linear"] = Field(
            "constant", description="'linear': lr(t) = train.lr · (1 − t / total_steps), SB3's linear_schedule"
        )
        loss: Literal["huber", "mse"] = Field(
            "huber", description="'huber': smooth L1 with δ=1 (SB3, Mnih et al.); 'mse': squared TD error"
        )

    def __init__(self, cfg: DQN.Config, model: nn.Module, fabric: Fabric, train_cfg: TrainConfig, env: gym.Env) -> None:
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise ConfigError(f"DQN needs a discrete action space, got {env.action_space}")
        if fabric.world_size > 1:
            raise ConfigError(
                f"DQN runs in one process (one environment, one buffer); got {fabric.world_size} "
                "processes: set train.devices=1"
            )
        if train_cfg.precision not in ("32-true", "bf16-mixed", "auto"):
            raise ConfigError(
                "DQN trains in float32 or under bf16 autocast (its loss and optimizer stay float32); "
                f"train.precision must be '32-true', 'bf16-mixed' or 'auto', got {train_cfg.precision!r}"
            )
        if train_cfg.scheduler != "none":
            raise ConfigError(
                f"DQN schedules its learning rate per environment step (task.lr_schedule); "
                f"train.scheduler must be 'none', got {train_cfg.scheduler!r}"
            )
        self.cfg, self.train_cfg = cfg, train_cfg
        self.device = fabric.device
        self.autocast = fabric.autocast  # the precision plugin's forward context (bf16 autocast, or nothing)
        self.n_actions = int(env.action_space.n)
        self.model = model.to(self.device)
        # θ⁻: a frozen copy of the online network, refreshed every target_update_interval steps
        self.target = copy.deepcopy(self.model).requires_grad_(False)
        self.optimizer = make_optimizer(self.model.parameters(), train_cfg)
        self.max_grad_norm = train_cfg.grad_clip if train_cfg.grad_clip is not None else float("inf")
        self.updates = 0  # gradient steps taken so far

    # -- behaviour policy ---------------------------------------------------------------------
    def epsilon(self, step: int) -> float:
        """Probability of a uniformly random action at environment step ``step`` (0-based)."""
        if step < self.cfg.learning_starts:
            return 1.0  # warm-up: SB3 samples the action space until learning_starts
        return linear_epsilon(
            step,
            initial=self.cfg.exploration_initial_eps,
            final=self.cfg.exploration_final_eps,
            fraction=self.cfg.exploration_fraction,
            total_steps=self.cfg.total_steps,
        )

    def explore(self, obs: Any, step: int, generator: torch.Generator) -> int:
        # a = uniform over actions with probability ε(t), else argmax_a Q(s, a; θ)
        if float(torch.rand((), generator=generator)) < self.epsilon(step):
            return int(torch.randint(self.n_actions, (), generator=generator))
        with torch.no_grad():
            q = self.model(torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None])  # (1, n_actions)
        return int(q.argmax(1))

    @staticmethod
    def act(model: nn.Module, obs: torch.Tensor) -> torch.Tensor:
        """Greedy policy: obs (B, obs_dim) -> actions (B,) int64, argmax_a Q(s, a)."""
        return model(obs).argmax(-1)

    # -- learning -----------------------------------------------------------------------------
    def update(self, buffer: ReplayBuffer, step: int, generator: torch.Generator) -> Logs:
        """Called after environment step ``step`` (1-based) was stored in ``buffer``."""
        cfg = self.cfg
        logs: Logs = {"train/epsilon": self.epsilon(step - 1)}  # the ε of the action just taken
        if step % cfg.target_update_interval == 0:
            self.sync_target()
        if step <= cfg.learning_starts or step % cfg.train_freq or cfg.gradient_steps == 0:
            return logs
        if cfg.lr_schedule == "linear":  # set before each training phase, like SB3's _update_learning_rate
            for group in self.optimizer.param_groups:
                group["lr"] = self.train_cfg.lr * max(0.0, 1.0 - step / cfg.total_steps)
        losses, q_means, norms = [], [], []
        for _ in range(cfg.gradient_steps):
            batch = ReplayBatch(
                *(t.to(self.device, non_blocking=True) for t in buffer.sample(self.train_cfg.batch_size, generator))
            )
            loss, q_sa, norm = self.gradient_step(batch)
            losses.append(loss)
            q_means.append(q_sa.mean())
            norms.append(norm)
        return logs | {
            "train/loss": torch.stack(losses).mean(),
            "train/q_mean": torch.stack(q_means).mean(),
            "train/grad_norm": torch.stack(norms).mean(),
        }

    def gradient_step(self, batch: ReplayBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One regression step on a batch; returns (loss, Q(s, a; θ), pre-clip gradient norm), detached."""
        with self.autocast():  # forwards in bf16 under train.precision=bf16-mixed; the loss below in float32
            y = td_target(
                batch, online=self.model, target=self.target, gamma=self.cfg.gamma, double=self.cfg.double_dqn
            ).float()  # (B,)
            q_sa = self.model(batch.obs).gather(1, batch.actions[:, None]).squeeze(1).float()  # (B,) Q(s, a; θ)
        # L(θ) = mean ℓ(Q(s, a; θ) − y), ℓ = Huber (δ = 1) or squared error
        loss = F.smooth_l1_loss(q_sa, y) if self.cfg.loss == "huber" else F.mse_loss(q_sa, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        return loss.detach(), q_sa.detach(), norm.detach()

    @torch.no_grad()
    def sync_target(self) -> None:
        # θ⁻ ← θ
        for p_target, p in zip(self.target.state_dict().values(), self.model.state_dict().values(), strict=True):
            p_target.copy_(p)

    # -- checkpoint ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "updates": torch.tensor(self.updates),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state["updates"])
