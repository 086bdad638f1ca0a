"""Registered RL entrypoints and their presets (presets are data: partial run configs)."""

from __future__ import annotations

from torch import nn

from dlzoo.families.rl.a2c import A2C
from dlzoo.families.rl.model import CategoricalActorCritic, GaussianActorCritic, QNetwork
from dlzoo.families.rl.objective import DQN
from dlzoo.families.rl.pipeline import DQNPipeline, PolicyPipeline
from dlzoo.families.rl.ppo import PPO
from dlzoo.families.rl.reinforce import Reinforce
from dlzoo.registry import register_model

CARTPOLE = {"name": "CartPole-v1"}

# RL Baselines3 Zoo, hyperparams/dqn.yml, CartPole-v1 (n_timesteps 5e4); SB3's max_grad_norm = 10
RL_ZOO_TASK = {
    "total_steps": 50_000,
    "eval_every_steps": 5_000,
    "eval_episodes": 10,
    "final_eval_episodes": 20,
    "buffer_size": 100_000,
    "gamma": 0.99,
    "learning_starts": 1000,
    "train_freq": 256,
    "gradient_steps": 128,
    "target_update_interval": 10,
    "exploration_fraction": 0.16,
    "exploration_initial_eps": 1.0,
    "exploration_final_eps": 0.04,
}
RL_ZOO_TRAIN = {"lr": 2.3e-3, "batch_size": 64, "grad_clip": 10.0, "log_every": 1000}


# the result is the latest round of the best validation return (SB3's EvalCallback keeps the same best_model)
KEEP_BEST_RETURN = {"monitor": "val/return_mean", "mode": "max", "ties_improve": True}


@register_model(
    family="rl",
    task="control",
    paradigm="reinforcement",
    objective=DQN,
    pipeline=DQNPipeline,
    presets={
        # seconds on CPU: 4k steps of CartPole, greedy return ~100-200 (random: ~22)
        "tiny": {
            "model": {"hidden": [64, 64]},
            "data": CARTPOLE,
            "task": {
                "total_steps": 4_000,
                "eval_every_steps": 2_000,
                "eval_episodes": 5,
                "final_eval_episodes": 10,
                "buffer_size": 10_000,
                "gamma": 0.98,
                "learning_starts": 500,
                "train_freq": 16,
                "gradient_steps": 8,
                "target_update_interval": 128,
                "exploration_fraction": 0.2,
                "exploration_final_eps": 0.04,
            },
            "train": {"lr": 2.3e-3, "batch_size": 64, "grad_clip": 10.0, "log_every": 200},
        },
        # the RL Zoo's tuned CartPole-v1 hyperparameters, as Stable-Baselines3 runs them
        "default": {"model": {"hidden": [256, 256]}, "data": CARTPOLE, "task": RL_ZOO_TASK, "train": RL_ZOO_TRAIN},
        # the same training; the result is the round with the best validation return, not the last
        # (the RL Zoo settings oscillate late in training: benchmarks/dqn_cartpole.py, README "Results")
        "stable": {
            "model": {"hidden": [256, 256]},
            "data": CARTPOLE,
            "task": RL_ZOO_TASK,
            "train": {**RL_ZOO_TRAIN, "keep_best": KEEP_BEST_RETURN},
        },
    },
)
def dqn(*, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (64, 64), dueling: bool = False) -> QNetwork:
    """DQN Q-network: observation -> ReLU MLP -> one action value per discrete action (Mnih et al. 2015);
    ``dueling``: V(s) + A(s, a) − mean_a A(s, a) heads (Wang et al. 2016)."""
    return QNetwork(obs_dim=obs_dim, n_actions=n_actions, hidden=hidden, dueling=dueling)


# -- policy gradients: REINFORCE, A2C, PPO ------------------------------------------------------------

PENDULUM = {"name": "Pendulum-v1"}

# RL Baselines3 Zoo, hyperparams/ppo.yml, CartPole-v1 (tuned): n_envs 8, n_timesteps 1e5, n_steps 32,
# batch_size 256, gae_lambda 0.8, gamma 0.98, n_epochs 20, ent_coef 0.0, learning_rate lin_0.001,
# clip_range lin_0.2; SB3's defaults for the rest (net_arch 64-64 tanh, vf_coef 0.5, max_grad_norm 0.5)
PPO_CARTPOLE_TASK = {
    "total_steps": 100_000,
    "eval_every_steps": 10_240,  # 40 rollouts of 8 x 32 steps
    "eval_episodes": 10,
    "final_eval_episodes": 20,
    "n_envs": 8,
    "n_steps": 32,
    "gamma": 0.98,
    "gae_lambda": 0.8,
    "n_epochs": 20,
    "ent_coef": 0.0,
    "clip_range": 0.2,
    "clip_range_schedule": "linear",
    "lr_schedule": "linear",
}
# RL Baselines3 Zoo, hyperparams/ppo.yml, Pendulum-v1 (tuned): n_envs 4, n_timesteps 1e5, n_steps 1024,
# gae_lambda 0.95, gamma 0.9, n_epochs 10, ent_coef 0.0, learning_rate 1e-3, clip_range 0.2, batch_size 64
# (SB3's default). The Zoo also sets use_sde: True (state-dependent exploration), which is not implemented
# here: exploration is the plain diagonal Gaussian.
PPO_PENDULUM_TASK = {
    "total_steps": 100_000,
    "eval_every_steps": 8192,  # 2 rollouts of 4 x 1024 steps
    "eval_episodes": 10,
    "final_eval_episodes": 20,
    "n_envs": 4,
    "n_steps": 1024,
    "gamma": 0.9,
    "gae_lambda": 0.95,
    "n_epochs": 10,
    "ent_coef": 0.0,
    "clip_range": 0.2,
}
# RL Baselines3 Zoo, hyperparams/a2c.yml, CartPole-v1: n_envs 8, n_timesteps 5e5, ent_coef 0.0; SB3's A2C
# defaults for the rest: n_steps 5, lr 7e-4, gamma 0.99, gae_lambda 1.0, vf_coef 0.5, RMSprop, max_grad_norm 0.5
A2C_CARTPOLE_TASK = {
    "total_steps": 500_000,
    "eval_every_steps": 20_000,
    "eval_episodes": 10,
    "final_eval_episodes": 20,
    "n_envs": 8,
    "n_steps": 5,
    "gamma": 0.99,
    "gae_lambda": 1.0,
    "ent_coef": 0.0,
}
SB3_TRAIN = {"grad_clip": 0.5, "log_every": 10}


def actor_critic(
    *,
    obs_dim: int,
    n_actions: int | None,
    action_dim: int | None,
    action_low: tuple[float, ...] | None,
    action_high: tuple[float, ...] | None,
    hidden: tuple[int, ...],
    activation: str,
    log_std_init: float,
) -> nn.Module:
    """A categorical actor-critic for a Discrete action space (n_actions), a Gaussian one for a Box (action_dim)."""
    if n_actions is not None:
        return CategoricalActorCritic(obs_dim=obs_dim, n_actions=n_actions, hidden=hidden, activation=activation)
    if action_dim is None or action_low is None or action_high is None:
        raise ValueError(
            "an actor-critic needs n_actions (discrete) or action_dim, action_low, action_high (continuous)"
        )
    return GaussianActorCritic(
        obs_dim=obs_dim,
        action_dim=action_dim,
        action_low=tuple(action_low),
        action_high=tuple(action_high),
        hidden=hidden,
        activation=activation,
        log_std_init=log_std_init,
    )


@register_model(
    family="rl",
    task="control",
    paradigm="on_policy",
    objective=PPO,
    pipeline=PolicyPipeline,
    presets={
        # seconds on CPU: 20k steps of CartPole with the RL Zoo settings; deterministic return ~500 (random ~22)
        "tiny": {
            "data": CARTPOLE,
            "task": {**PPO_CARTPOLE_TASK, "total_steps": 20_480, "eval_every_steps": 10_240, "eval_episodes": 5},
            "train": {"lr": 1e-3, "batch_size": 256, **SB3_TRAIN},
        },
        "default": {"data": CARTPOLE, "task": PPO_CARTPOLE_TASK, "train": {"lr": 1e-3, "batch_size": 256, **SB3_TRAIN}},
        "pendulum": {"data": PENDULUM, "task": PPO_PENDULUM_TASK, "train": {"lr": 1e-3, "batch_size": 64, **SB3_TRAIN}},
    },
)
def ppo(
    *,
    obs_dim: int,
    n_actions: int | None = None,
    action_dim: int | None = None,
    action_low: tuple[float, ...] | None = None,
    action_high: tuple[float, ...] | None = None,
    hidden: tuple[int, ...] = (64, 64),
    activation: str = "tanh",
    log_std_init: float = 0.0,
) -> nn.Module:
    """PPO actor-critic: separate tanh MLPs for π(a|s) (categorical or Gaussian) and V(s) (Schulman et al. 2017)."""
    return actor_critic(**locals())


@register_model(
    family="rl",
    task="control",
    paradigm="on_policy",
    objective=A2C,
    pipeline=PolicyPipeline,
    presets={
        # seconds on CPU: 40k steps of CartPole (A2C needs many more steps than PPO for the same return)
        "tiny": {
            "data": CARTPOLE,
            "task": {**A2C_CARTPOLE_TASK, "total_steps": 40_000, "eval_every_steps": 20_000, "eval_episodes": 5},
            "train": {"lr": 7e-4, "batch_size": 40, **SB3_TRAIN},
        },
        "default": {"data": CARTPOLE, "task": A2C_CARTPOLE_TASK, "train": {"lr": 7e-4, "batch_size": 40, **SB3_TRAIN}},
    },
)
def a2c(
    *,
    obs_dim: int,
    n_actions: int | None = None,
    action_dim: int | None = None,
    action_low: tuple[float, ...] | None = None,
    action_high: tuple[float, ...] | None = None,
    hidden: tuple[int, ...] = (64, 64),
    activation: str = "tanh",
    log_std_init: float = 0.0,
) -> nn.Module:
    """A2C actor-critic: separate tanh MLPs for π(a|s) (categorical or Gaussian) and V(s) (Mnih et al. 2016)."""
    return actor_critic(**locals())


@register_model(
    family="rl",
    task="control",
    paradigm="on_policy",
    objective=Reinforce,
    pipeline=PolicyPipeline,
    presets={
        "tiny": {
            "data": CARTPOLE,
            "task": {
                "total_steps": 40_960,
                "eval_every_steps": 20_480,
                "eval_episodes": 5,
                "n_envs": 8,
                "n_steps": 512,
                "gamma": 0.99,
                "normalize_advantage": True,
            },
            "train": {"lr": 3e-3, "batch_size": 4096, **SB3_TRAIN},
        },
        "default": {
            "data": CARTPOLE,
            "task": {"total_steps": 200_000, "eval_every_steps": 20_480, "n_envs": 8, "n_steps": 512, "gamma": 0.99},
            "train": {"lr": 3e-3, "batch_size": 4096, **SB3_TRAIN},
        },
    },
)
def reinforce(
    *,
    obs_dim: int,
    n_actions: int | None = None,
    action_dim: int | None = None,
    action_low: tuple[float, ...] | None = None,
    action_high: tuple[float, ...] | None = None,
    hidden: tuple[int, ...] = (64, 64),
    activation: str = "tanh",
    log_std_init: float = 0.0,
) -> nn.Module:
    """REINFORCE policy and value baseline: separate tanh MLPs for π(a|s) and V(s) (Williams 1992)."""
    return actor_critic(**locals())


import dlzoo.families.rl.offpolicy_presets  # noqa: E402,F401  (sac, td3, ddpg)
