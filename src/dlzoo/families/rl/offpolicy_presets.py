"""Registered off-policy continuous-control agents: sac, td3, ddpg (imported by ``presets.py``)."""

from __future__ import annotations

from typing import Any

from dlzoo.config import ConfigError
from dlzoo.families.rl.continuous import ContinuousAgent
from dlzoo.families.rl.pipeline import PolicyPipeline
from dlzoo.families.rl.sac import SAC
from dlzoo.families.rl.td3 import TD3
from dlzoo.registry import register_model

PENDULUM = {"name": "Pendulum-v1"}
EVAL = {"eval_every_steps": 2_000, "eval_episodes": 10, "final_eval_episodes": 20}

# seconds on CPU: 1k steps of Pendulum-v1 (5 episodes) with small networks, a complete run for the contract
# tests; too short to swing the pendulum up (tests/families/test_rl_offpolicy.py trains it on a 1-D toy)
TINY_TASK = {"total_steps": 1_000, "eval_every_steps": 600, "eval_episodes": 2, "final_eval_episodes": 3}
TINY_TRAIN = {"lr": 1e-3, "batch_size": 64, "log_every": 200}

# RL Baselines3 Zoo, hyperparams/sac.yml, Pendulum-v1: n_timesteps 2e4, learning_rate 1e-3; SB3's SAC
# defaults for the rest: buffer 1e6, learning_starts 100, batch 256, tau 0.005, gamma 0.99, train_freq 1,
# gradient_steps 1, ent_coef auto (init 1.0, target entropy −A), net_arch 256-256 ReLU, Adam
SAC_PENDULUM_TASK = {
    "total_steps": 20_000,
    **EVAL,
    "buffer_size": 1_000_000,
    "learning_starts": 100,
    "gamma": 0.99,
    "tau": 0.005,
    "train_freq": 1,
    "gradient_steps": 1,
}
# RL Baselines3 Zoo, hyperparams/td3.yml, Pendulum-v1 (checked at rl-baselines3-zoo 22e3ff2): n_timesteps 2e4,
# gamma 0.98, buffer_size 2e5, learning_starts 1e4, normal action noise σ 0.1, train_freq 1, gradient_steps 1,
# learning_rate 1e-3, net_arch 400-300; SB3's TD3 defaults for the rest: batch 256, tau 0.005, policy_delay 2,
# target noise 0.2 clip 0.5
TD3_PENDULUM_TASK = {
    "total_steps": 20_000,
    **EVAL,
    "buffer_size": 200_000,
    "learning_starts": 10_000,
    "gamma": 0.98,
    "tau": 0.005,
    "train_freq": 1,
    "gradient_steps": 1,
    "action_noise": 0.1,
}
RL_ZOO_TRAIN = {"lr": 1e-3, "batch_size": 256, "log_every": 1000}
# SB3's DDPG: TD3 with one critic, no delay and no target smoothing
DDPG_TASK = {"policy_delay": 1, "target_policy_noise": 0.0, "target_noise_clip": 0.0}


#: what every off-policy agent registers with
OFF_POLICY = {"family": "rl", "task": "control", "paradigm": "reinforcement", "pipeline": PolicyPipeline}


def pendulum_presets(task: dict[str, Any], **tiny_task: Any) -> dict[str, dict[str, Any]]:
    """tiny (1k steps, small networks; ``tiny_task`` settings beside the task's own), default = pendulum."""
    extra = {k: v for k, v in task.items() if k in DDPG_TASK}  # DDPG's settings hold in the tiny run too
    tiny = {**TINY_TASK, "learning_starts": 200, "buffer_size": 10_000, **tiny_task, **extra}
    full = {"data": PENDULUM, "task": task, "train": RL_ZOO_TRAIN}
    return {
        "tiny": {
            "model": {"hidden": [64, 64], "critic_hidden": [64, 64]},
            "data": PENDULUM,
            "task": tiny,
            "train": TINY_TRAIN,
        },
        "default": full,
        "pendulum": full,
    }


def agent(stochastic: bool, **kw) -> ContinuousAgent:
    if kw["action_dim"] is None or kw["action_low"] is None or kw["action_high"] is None:
        raise ConfigError(
            "sac, td3 and ddpg need a continuous (Box) action space (action_dim, action_low, action_high); "
            "for discrete actions use dqn, ppo, a2c or reinforce"
        )
    return ContinuousAgent(stochastic=stochastic, **{k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()})


@register_model(objective=SAC, **OFF_POLICY, presets=pendulum_presets(SAC_PENDULUM_TASK))
def sac(
    *,
    obs_dim: int,
    action_dim: int | None = None,
    action_low: tuple[float, ...] | None = None,
    action_high: tuple[float, ...] | None = None,
    hidden: tuple[int, ...] = (256, 256),
    critic_hidden: tuple[int, ...] = (256, 256),
    n_critics: int = 2,
) -> ContinuousAgent:
    """SAC agent: a tanh-squashed diagonal Gaussian actor and twin Q critics, ReLU MLPs (Haarnoja et al. 2018)."""
    return agent(True, **locals())


@register_model(objective=TD3, **OFF_POLICY, presets=pendulum_presets(TD3_PENDULUM_TASK, gamma=0.98))
def td3(
    *,
    obs_dim: int,
    action_dim: int | None = None,
    action_low: tuple[float, ...] | None = None,
    action_high: tuple[float, ...] | None = None,
    hidden: tuple[int, ...] = (400, 300),
    critic_hidden: tuple[int, ...] = (400, 300),
    n_critics: int = 2,
) -> ContinuousAgent:
    """TD3 agent: a deterministic tanh actor and twin Q critics, ReLU MLPs (Fujimoto et al. 2018)."""
    return agent(False, **locals())


@register_model(objective=TD3, **OFF_POLICY, presets=pendulum_presets({**TD3_PENDULUM_TASK, **DDPG_TASK}, gamma=0.98))
def ddpg(
    *,
    obs_dim: int,
    action_dim: int | None = None,
    action_low: tuple[float, ...] | None = None,
    action_high: tuple[float, ...] | None = None,
    hidden: tuple[int, ...] = (400, 300),
    critic_hidden: tuple[int, ...] = (400, 300),
    n_critics: int = 1,
) -> ContinuousAgent:
    """DDPG agent: TD3's networks with one critic; trained by TD3 without delay or smoothing (Lillicrap et al. 2016)."""
    return agent(False, **locals())
