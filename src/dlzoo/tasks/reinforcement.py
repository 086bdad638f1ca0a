"""Reinforcement paradigm: a gymnasium environment, a collector and a replay buffer.

The ``data:`` section names the environment (``data: {name: CartPole-v1}``). The family objective
(e.g. ``families.rl.objective.DQN``, protocol ``dlzoo.protocols.ReinforcementObjective``) supplies:

- ``Config``: schema of ``task:``, extending ``dlzoo.paradigms.RLConfig``;
- ``__init__(cfg, model, fabric, train_cfg, env)``: builds its optimizer(s) and target networks;
- ``explore(obs, step, generator) -> action``: the behaviour policy (e.g. epsilon-greedy);
- ``update(buffer, step, generator) -> logs``: called every env step; it decides when to learn;
- ``act(model, obs)`` (static): the greedy policy, used by evaluation and by the server's ``/act``;
- ``state_dict()`` / ``load_state_dict()``.

A round is ``eval_every_steps`` environment steps, extended to the end of the running episode, so
every checkpoint falls on an episode boundary and a resumed run resets the environment with the same
seed (``seed + episode index``) as an uninterrupted one.

With ``train.keep_best: {monitor: val/return_mean, mode: max, ties_improve: true}`` (the loop's
setting, training/selection.py) the run's result is the round with the best ``val/return_mean`` (the
latest of equals), not the last. Selection uses the validation seeds only.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import torch

from dlzoo.data.replay import ReplayBuffer
from dlzoo.metrics import episodic_return_stats
from dlzoo.tasks.base import Context, Logs, build_model


def space_facts(env: gym.Env) -> dict[str, Any]:
    obs_shape = tuple(env.observation_space.shape)
    facts: dict[str, Any] = {"obs_dim": math.prod(obs_shape), "obs_shape": obs_shape}
    if isinstance(env.action_space, gym.spaces.Discrete):
        facts["n_actions"] = int(env.action_space.n)
    else:  # a Box: SAC/TD3 squash their actions into [action_low, action_high]
        facts["action_dim"] = int(math.prod(env.action_space.shape))
        facts["action_low"] = [float(v) for v in np.ravel(env.action_space.low)]
        facts["action_high"] = [float(v) for v in np.ravel(env.action_space.high)]
    return facts


class ReinforcementTask:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.Objective = ctx.spec.objective
        self.cfg = self.Objective.Config(**ctx.cfg.task)

    def setup(self) -> None:
        ctx = self.ctx
        self.env_id = str(ctx.cfg.data["name"])
        self.env = gym.make(self.env_id)
        facts = space_facts(self.env)
        ctx.cfg.info.update(
            env=self.env_id,
            gymnasium_version=gym.__version__,
            input_shape=list(facts["obs_shape"]),
            **{k: v for k, v in facts.items() if k in ("n_actions", "action_dim")},
        )
        self.model = build_model(ctx, facts)
        self.algo = self.Objective(self.cfg, self.model, ctx.fabric, ctx.train, self.env)
        discrete = "n_actions" in facts
        self.buffer = ReplayBuffer(
            self.cfg.buffer_size, facts["obs_shape"], () if discrete else (facts["action_dim"],), discrete=discrete
        )
        self.generator = torch.Generator().manual_seed(ctx.train.seed)
        self.step = 0  # environment steps so far
        self.episode = 0  # episodes started so far
        self.returns: list[float] = []  # training episode returns, for the plot
        self.env_time = 0.0  # seconds in env.step and env.reset (benchmarks: where the time goes)

    def num_rounds(self) -> int:
        return math.ceil(self.cfg.total_steps / self.cfg.eval_every_steps)

    def train_round(self, round_idx: int) -> Iterator[Logs]:
        target = min((round_idx + 1) * self.cfg.eval_every_steps, self.cfg.total_steps)
        while self.step < target:
            t = time.perf_counter()
            obs, _ = self.env.reset(seed=self.ctx.train.seed * 100_003 + self.episode)
            self.env_time += time.perf_counter() - t
            self.episode += 1
            done, ret, length = False, 0.0, 0
            while not done:
                action = self.algo.explore(obs, self.step, self.generator)
                t = time.perf_counter()
                next_obs, reward, terminated, truncated, _ = self.env.step(action)
                self.env_time += time.perf_counter() - t
                self.buffer.add(obs, action, reward, next_obs, terminated)
                obs, done = next_obs, terminated or truncated
                ret, length, self.step = ret + float(reward), length + 1, self.step + 1
                logs = self.algo.update(self.buffer, self.step, self.generator)
                if done:
                    self.returns.append(ret)
                    logs = {**logs, "train/episode_return": ret, "train/episode_length": float(length)}
                yield logs

    def evaluate(self, split: str, *, final: bool = False) -> dict[str, float]:
        episodes = self.cfg.final_eval_episodes if final else self.cfg.eval_episodes
        offset = 10**9 if split == "test" else 10**8  # evaluation seeds never overlap training seeds
        returns = rollout_returns(
            self.env_id,
            self.Objective.act,
            self.model,
            episodes=episodes,
            seed=offset + self.ctx.train.seed * 1000,
            device=self.ctx.fabric.device,
        )
        stats = episodic_return_stats(returns)
        return {f"{split}/{k}": v for k, v in stats.items()}

    # -- contract / export ---------------------------------------------------------------------
    dynamic_dims = None  # observations (batch, *obs_shape)

    def example_inputs(self, n: int) -> tuple[torch.Tensor]:
        """n observations drawn from the environment's observation space (seeded)."""
        space = self.env.observation_space
        space.seed(n)
        return (torch.as_tensor(np.stack([space.sample() for _ in range(n)]), dtype=torch.float32),)

    def state_dict(self) -> dict[str, Any]:
        return {
            "algo": self.algo.state_dict(),
            "buffer": self.buffer.state_dict(),
            "generator": self.generator.get_state(),
            "step": torch.tensor(self.step),
            "episode": torch.tensor(self.episode),
            "returns": torch.tensor(self.returns, dtype=torch.float64),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.algo.load_state_dict(state["algo"])
        self.buffer.load_state_dict(state["buffer"])
        self.generator.set_state(state["generator"])
        self.step, self.episode = int(state["step"]), int(state["episode"])
        self.returns = state["returns"].tolist()

    def plots(self, folder: Path) -> list[Path]:
        from dlzoo.plots import episode_returns_plot

        return [episode_returns_plot(self.returns, folder / "episode_returns.png", title=self.env_id)]


@torch.no_grad()
def rollout_returns(
    env_id: str, act: Any, model: torch.nn.Module, *, episodes: int, seed: int, device: torch.device | str = "cpu"
) -> list[float]:
    """Returns of ``episodes`` greedy episodes, episode i reset with ``seed + i``."""
    env = gym.make(env_id)
    model.eval()
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done, ret = False, 0.0
        while not done:
            a = act(model, torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=device)[None])[0]
            obs, reward, terminated, truncated, _ = env.step(a.cpu().numpy() if a.ndim else int(a))
            ret += float(reward)
            done = terminated or truncated
        returns.append(ret)
    env.close()
    model.train()
    return returns
