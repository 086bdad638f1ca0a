"""Registered RL entrypoints and their presets (presets are data: partial run configs)."""

from __future__ import annotations

from dlzoo.families.rl.model import QNetwork
from dlzoo.families.rl.objective import DQN
from dlzoo.families.rl.pipeline import DQNPipeline
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
def dqn(*, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (64, 64)) -> QNetwork:
    """DQN Q-network: observation -> ReLU MLP -> one action value per discrete action (Mnih et al. 2015)."""
    return QNetwork(obs_dim=obs_dim, n_actions=n_actions, hidden=hidden)
