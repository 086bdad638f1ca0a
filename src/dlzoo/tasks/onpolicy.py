"""On-policy paradigm: a gymnasium vector environment, rollouts of n_envs x n_steps, one update per rollout.

The ``data:`` section names the environment (``data: {name: CartPole-v1}``). The family objective
(e.g. ``families.rl.ppo.PPO``, protocol ``dlzoo.protocols.OnPolicyObjective``) supplies ``Config``
(extending ``dlzoo.paradigms.OnPolicyConfig``), ``explore`` (sampled actions, log-probabilities, values),
``value`` (the bootstrap), ``update`` (learn from a full ``RolloutBuffer``), ``act`` (the deterministic
policy, for evaluation and ``/act``) and its ``state_dict``.

The environments are gymnasium's own: ``SyncVectorEnv`` (or ``AsyncVectorEnv``, ``task.vectorization``)
in the SAME_STEP autoreset mode (an episode's end returns the next episode's first observation and
the final one in ``info["final_obs"]``), ``RecordEpisodeStatistics`` for the training returns, and
``ClipAction`` for continuous actions, ``NormalizeReward`` as a setting (its running statistics are
checkpointed). A time-limit truncation bootstraps from V(s_final); termination
does not (``RolloutBuffer.next_values``).

A round is ``eval_every_steps`` environment steps (whole rollouts). Every round starts by resetting the
environments with the seeds ``train.seed`` and the round give, so a run resumed from a checkpoint (taken
at a round's end) continues exactly as an uninterrupted one; the unfinished episodes at a round's end
are cut like a rollout's end (bootstrapped from V).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from dlzoo.config import ConfigError
from dlzoo.data.rollout import RolloutBuffer
from dlzoo.metrics import episodic_return_stats
from dlzoo.tasks.base import Context, Logs, build_model
from dlzoo.tasks.reinforcement import rollout_returns

SUPPORTED_SPACES = (gym.spaces.Discrete, gym.spaces.Box)


def action_facts(space: gym.Space, *, model: str) -> dict[str, Any]:
    """The builder's action arguments: n_actions (Discrete) or action_dim and the box's bounds (Box)."""
    if isinstance(space, gym.spaces.Discrete):
        return {"n_actions": int(space.n)}
    if isinstance(space, gym.spaces.Box):
        return {
            "action_dim": int(math.prod(space.shape)),
            "action_low": [float(v) for v in np.ravel(space.low)],
            "action_high": [float(v) for v in np.ravel(space.high)],
        }
    raise ConfigError(
        f"{model} supports Discrete and Box action spaces (categorical or diagonal-Gaussian policies), "
        f"got {type(space).__name__}: {space}"
    )


class OnPolicyTask:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.Objective = ctx.spec.objective
        self.cfg = self.Objective.Config(**ctx.cfg.task)

    def make_envs(self) -> gym.vector.VectorEnv:
        cfg = self.cfg
        fns = [lambda: gym.make(self.env_id) for _ in range(cfg.n_envs)]
        mode = gym.vector.AutoresetMode.SAME_STEP
        if cfg.vectorization == "async":
            envs: gym.vector.VectorEnv = gym.vector.AsyncVectorEnv(fns, autoreset_mode=mode)
        else:
            envs = gym.vector.SyncVectorEnv(fns, autoreset_mode=mode)
        envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
        if isinstance(envs.single_action_space, gym.spaces.Box):
            envs = gym.wrappers.vector.ClipAction(envs)  # the Gaussian's samples are unbounded
        if cfg.normalize_reward:  # outermost: RecordEpisodeStatistics, inside it, sees the raw rewards
            envs = gym.wrappers.vector.NormalizeReward(envs, gamma=cfg.gamma)
        return envs

    def setup(self) -> None:
        ctx, cfg = self.ctx, self.cfg
        self.env_id = str(ctx.cfg.data["name"])
        probe = gym.make(self.env_id)
        obs_shape = tuple(probe.observation_space.shape)
        facts = {"obs_dim": math.prod(obs_shape), **action_facts(probe.action_space, model=ctx.spec.name)}
        self.observation_space, self.discrete = probe.observation_space, "n_actions" in facts
        probe.close()
        ctx.cfg.info.update(
            env=self.env_id,
            gymnasium_version=gym.__version__,
            input_shape=list(obs_shape),
            **{k: v for k, v in facts.items() if k in ("n_actions", "action_dim")},
        )
        self.envs = self.make_envs()
        self.model = build_model(ctx, facts)
        self.algo = self.Objective(cfg, self.model, ctx.fabric, ctx.train, self.envs)
        action_shape = () if self.discrete else (facts["action_dim"],)
        self.buffer = RolloutBuffer(cfg.n_steps, cfg.n_envs, obs_shape, action_shape, discrete=self.discrete)
        self.device = ctx.fabric.device
        self.generator = torch.Generator(device=self.device).manual_seed(ctx.train.seed)
        self.step = 0  # environment steps so far, all environments together
        self.returns: list[float] = []  # training episode returns, for the plot
        self.timings = {"env": 0.0, "forward": 0.0, "update": 0.0}  # seconds: where the time goes

    def num_rounds(self) -> int:
        return math.ceil(self.cfg.total_steps / self.cfg.eval_every_steps)

    def _tensor(self, x: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x), dtype=torch.float32, device=self.device)

    def train_round(self, round_idx: int) -> Iterator[Logs]:
        cfg, buf, timings = self.cfg, self.buffer, self.timings
        target = min((round_idx + 1) * cfg.eval_every_steps, cfg.total_steps)
        obs_np, _ = self.envs.reset(seed=self.ctx.train.seed * 1_000_003 + round_idx * cfg.n_envs)
        obs = self._tensor(obs_np)  # (N, *obs_shape)
        while self.step < target:
            ended: list[float] = []
            lengths: list[float] = []
            for _ in range(cfg.n_steps):
                t0 = time.perf_counter()
                with torch.no_grad():
                    actions, log_probs, values = self.algo.explore(obs, self.generator)  # (N, ...), (N,), (N,)
                t1 = time.perf_counter()
                next_obs, rewards, terminated, truncated, info = self.envs.step(actions.cpu().numpy())
                t2 = time.perf_counter()
                buf.add(
                    obs,
                    actions,
                    log_probs,
                    values,
                    self._tensor(rewards),
                    self._tensor(terminated),
                    self._tensor(truncated),
                )
                if truncated.any():  # time limit: bootstrap from V(s_final), the observation it cut off
                    final = self._tensor(np.stack(info["final_obs"][truncated]))
                    with torch.no_grad():
                        buf.set_final_values(torch.as_tensor(truncated, device=self.device), self.algo.value(final))
                if "episode" in info:
                    done = info["_episode"]
                    ended += info["episode"]["r"][done].tolist()
                    lengths += info["episode"]["l"][done].tolist()
                obs = self._tensor(next_obs)
                self.step += cfg.n_envs
                timings["forward"] += t1 - t0 + time.perf_counter() - t2
                timings["env"] += t2 - t1
            t0 = time.perf_counter()
            with torch.no_grad():
                last_value = self.algo.value(obs)  # (N,) V(s_T)
            logs = self.algo.update(buf, last_value, self.step)
            buf.reset()
            timings["update"] += time.perf_counter() - t0
            self.returns += ended
            if ended:
                logs = {
                    **logs,
                    "train/episode_return": float(np.mean(ended)),
                    "train/episode_length": float(np.mean(lengths)),
                }
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
            device=self.device,
        )
        stats = episodic_return_stats(returns)
        return {f"{split}/{k}": v for k, v in stats.items()}

    # -- contract / export ---------------------------------------------------------------------
    dynamic_dims = None  # observations (batch, *obs_shape)

    def example_inputs(self, n: int) -> tuple[torch.Tensor]:
        """n observations drawn from the environment's observation space (seeded)."""
        space = self.observation_space
        space.seed(n)
        return (torch.as_tensor(np.stack([space.sample() for _ in range(n)]), dtype=torch.float32),)

    def state_dict(self) -> dict[str, Any]:
        """The objective's state, the generator, the counters and the reward normaliser's running statistics
        (rounds end on rollout boundaries and start with an environment reset: no rollout is in flight)."""
        state = {
            "algo": self.algo.state_dict(),
            "generator": self.generator.get_state(),
            "step": torch.tensor(self.step),
            "returns": torch.tensor(self.returns, dtype=torch.float64),
        }
        if self.cfg.normalize_reward:
            rms = self.envs.return_rms
            state["return_rms"] = torch.tensor(
                [*np.ravel(rms.mean), *np.ravel(rms.var), rms.count], dtype=torch.float64
            )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.algo.load_state_dict(state["algo"])
        self.generator.set_state(state["generator"])
        self.step = int(state["step"])
        self.returns = state["returns"].tolist()
        if self.cfg.normalize_reward:
            mean, var, count = state["return_rms"].tolist()
            rms = self.envs.return_rms
            rms.mean, rms.var, rms.count = np.asarray(mean), np.asarray(var), count

    def plots(self, folder: Path) -> list[Path]:
        from dlzoo.plots import episode_returns_plot

        return [episode_returns_plot(self.returns, folder / "episode_returns.png", title=self.env_id)]
