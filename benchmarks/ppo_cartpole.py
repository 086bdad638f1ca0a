"""PPO (and A2C) on CartPole-v1: dlzoo's ``ppo`` / ``a2c`` against Stable-Baselines3's, with the RL Zoo hyperparameters.

    flock /tmp/dlzoo-helpers.lock nice -n 5 python benchmarks/ppo_cartpole.py            # PPO, seeds 0-4, records
    flock /tmp/dlzoo-helpers.lock nice -n 5 python benchmarks/ppo_cartpole.py --algo a2c   # A2C (5e5 steps)
    python benchmarks/ppo_cartpole.py --seeds 10 11 --no-sb3 --no-record task.n_epochs=10   # exploring

RL Zoo (rl-baselines3-zoo hyperparams/ppo.yml, CartPole-v1): 8 environments, 1e5 steps, n_steps 32,
batch_size 256, gae_lambda 0.8, gamma 0.98, n_epochs 20, ent_coef 0, learning_rate lin_0.001, clip_range
lin_0.2; SB3's defaults otherwise (64-64 tanh actor and critic, vf_coef 0.5, max_grad_norm 0.5, Adam ε 1e-5).
A2C (hyperparams/a2c.yml, CartPole-v1): 8 environments, 5e5 steps, ent_coef 0; SB3's A2C defaults otherwise
(n_steps 5, lr 7e-4, gamma 0.99, gae_lambda 1, RMSprop α 0.99 ε 1e-5, max_grad_norm 0.5).

Per seed, ours and SB3 run one after the other in this process (alternating, so a change in the machine's
load hits both), with ``torch.set_num_threads(--threads)``. Both final policies are scored by the same
code (``dlzoo.tasks.reinforcement.rollout_returns``: the deterministic action, test episode i reset with
seed 1e9 + 1000·seed + i). Wall time is training only: ours excludes its validation rounds (the gaps
before each val row of metrics.jsonl) and includes its checkpoints; SB3 is timed around ``learn``.
One more run of ours (seed of --profile-seed) records where its time goes: the environments, the
forward passes while acting, the updates (``OnPolicyTask.timings``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402
from _sb3 import sb3_baseline, summary  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.registry import get_spec  # noqa: E402
from dlzoo.runs import RunDir  # noqa: E402
from dlzoo.tasks.reinforcement import rollout_returns  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402

ENV = "CartPole-v1"
TEST_OFFSET = 10**9  # the test seeds of OnPolicyTask.evaluate
REFERENCE = {
    "ppo": {
        "value": 500.0,
        "source": "DLR-RM/rl-baselines3-zoo benchmark (PPO CartPole-v1, 1e5 steps): 500 ± 0; SB3 measured on "
        "this kind of machine before the dlzoo runs: 16.1 s to train",
    },
    "a2c": {"value": 500.0, "source": "DLR-RM/rl-baselines3-zoo benchmark (A2C CartPole-v1, 5e5 steps): 500 ± 0"},
}


# -- ours -------------------------------------------------------------------------------------------


def run_ours(algo: str, seed: int, overrides: list[str]) -> dict[str, Any]:
    cfg = resolve_config(algo, preset="default", overrides=[*overrides, f"train.seed={seed}", "train.progress=false"])
    with tempfile.TemporaryDirectory() as root:
        run = RunDir.create(root, algo, f"seed{seed}")
        result = train_run(cfg, run)
        rows = run.read_metrics()
    eval_time, last_train_time = 0.0, 0.0
    for row in rows:  # a val row follows the round's last train row: the gap is the evaluation
        if "val/return_mean" in row:
            eval_time += row["time"] - last_train_time
        else:
            last_train_time = row["time"]
    return {
        "final": result["test/return_mean"],  # the same rollout_returns, on the same test seeds
        "wall_time_s": result["wall_time_s"] - eval_time,
        "config": cfg.model_dump(mode="json"),
    }


def profile_ours(algo: str, seed: int, overrides: list[str]) -> dict[str, float]:
    """Seconds in the environments, the acting forward passes and the updates, of one run outside the loop."""
    from lightning_fabric import Fabric

    from dlzoo.tasks import make_task
    from dlzoo.tasks.base import Context

    cfg = resolve_config(algo, preset="default", overrides=[*overrides, f"train.seed={seed}", "train.progress=false"])
    task = make_task(Context(get_spec(algo), cfg, Fabric(accelerator="cpu", devices=1)))
    task.setup()
    t = time.perf_counter()
    for r in range(task.num_rounds()):
        for _ in task.train_round(r):
            pass
    total = time.perf_counter() - t
    return {**{k: round(v, 3) for k, v in task.timings.items()}, "total": round(total, 3)}


# -- Stable-Baselines3 ------------------------------------------------------------------------------


def run_sb3(algo: str, task: dict[str, Any], train: dict[str, Any], seed: int) -> dict[str, Any]:
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.env_util import make_vec_env

    def linear(start: float):  # RL Zoo's lin_<v>: v · progress_remaining
        return lambda progress_remaining: progress_remaining * start

    env = make_vec_env(ENV, n_envs=task["n_envs"], seed=seed)
    common = {
        "n_steps": task["n_steps"],
        "gae_lambda": task["gae_lambda"],
        "gamma": task["gamma"],
        "ent_coef": task["ent_coef"],
        "max_grad_norm": train["grad_clip"],
        "seed": seed,
        "device": "cpu",
    }
    if algo == "ppo":
        model = PPO(
            "MlpPolicy",
            env,
            batch_size=train["batch_size"],
            n_epochs=task["n_epochs"],
            learning_rate=linear(train["lr"]),
            clip_range=linear(task["clip_range"]),
            **common,
        )
    else:  # SB3's A2C: RMSprop (α 0.99, ε 1e-5), no advantage normalisation, the lr constant
        model = A2C("MlpPolicy", env, learning_rate=train["lr"], **common)
    t = time.perf_counter()
    model.learn(total_timesteps=task["total_steps"])
    wall = time.perf_counter() - t

    def deterministic(policy: torch.nn.Module, obs: torch.Tensor) -> torch.Tensor:
        return policy._predict(obs, deterministic=True)

    returns = rollout_returns(
        ENV, deterministic, model.policy, episodes=task["final_eval_episodes"], seed=TEST_OFFSET + seed * 1000
    )
    return {"final": statistics.fmean(returns), "wall_time_s": wall}


# -- report -----------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algo", choices=["ppo", "a2c"], default="ppo", help="which algorithm (same for both libraries)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads, the same for both")
    ap.add_argument("--profile-seed", type=int, default=0, help="the seed of the run whose time is broken down")
    ap.add_argument("--no-sb3", action="store_true", help="skip Stable-Baselines3")
    ap.add_argument("--no-record", action="store_true", help="print only")
    ap.add_argument("overrides", nargs="*", help="dotted overrides for ours, e.g. task.n_epochs=10")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.overrides and not args.no_record:
        ap.error("overrides change the recipe: explore them with --no-record")
    if args.no_sb3 and not args.no_record:
        ap.error("the records carry SB3 as their baseline: --no-sb3 needs --no-record")

    overrides = [*args.overrides, f"train.threads={args.threads}"]
    algo = args.algo
    cfg = resolve_config(algo, preset="default", overrides=args.overrides)  # SB3 takes the numbers it knows
    ours, sb3 = [], []
    for i, seed in enumerate(args.seeds):
        pair = [lambda seed=seed: ours.append(run_ours(algo, seed, overrides))]
        if not args.no_sb3:
            pair.append(lambda seed=seed: sb3.append(run_sb3(algo, cfg.task, cfg.train.model_dump(), seed)))
        for go in pair if i % 2 == 0 else pair[::-1]:  # alternate which library goes first
            go()
        line = f"seed {seed}: ours {ours[-1]['final']:.1f} in {ours[-1]['wall_time_s']:.1f} s"
        if sb3:
            line += f"; sb3 {sb3[-1]['final']:.1f} in {sb3[-1]['wall_time_s']:.1f} s"
        print(line, flush=True)
    s_ours = summary("dlzoo", ours)
    s_sb3 = summary("sb3", sb3) if sb3 else None
    timings = profile_ours(algo, args.profile_seed, overrides)
    print(f"where our time goes (seed {args.profile_seed}, s): {timings}", flush=True)
    if args.no_record:
        return

    import stable_baselines3

    episodes = cfg.task["final_eval_episodes"]
    record(
        "ppo_cartpole",
        key=f"{algo}-return",
        model=algo,
        family="rl",
        dataset=ENV,
        dataset_version=f"gymnasium {gym.__version__}",
        split=f"test: {episodes} deterministic-policy episodes, reset seeds 1e9 + 1000*seed + i",
        metric="test/return_mean",
        values=s_ours["finals"],
        seeds=args.seeds,
        wall_time_s=s_ours["wall_mean"],
        reference=REFERENCE[algo],
        baselines=[sb3_baseline(stable_baselines3.__version__, algo, s_sb3)],
        config=ours[0]["config"],
        notes=f"torch threads {args.threads} for both, alternating per seed; wall times exclude evaluation "
        f"(ours includes its checkpoints); time breakdown of one run of ours (seed {args.profile_seed}): "
        f"environments {timings['env']} s, acting forward passes {timings['forward']} s, updates "
        f"{timings['update']} s of {timings['total']} s",
        extra={"iqm": s_ours["iqm"], "wall_times_s": s_ours["walls"], "time_breakdown_s": timings},
    )


if __name__ == "__main__":
    main()
