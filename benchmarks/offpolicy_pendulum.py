"""SAC and TD3 on Pendulum-v1, 20k steps: dlzoo against Stable-Baselines3, with the RL Zoo hyperparameters.

    python benchmarks/offpolicy_pendulum.py --seeds 0 1 2          # SAC and TD3, records
    python benchmarks/offpolicy_pendulum.py --algos sac --seeds 5 --no-sb3 --no-record train.precision=bf16-mixed

RL Zoo (rl-baselines3-zoo hyperparams/sac.yml, Pendulum-v1): 2e4 steps, learning_rate 1e-3, SB3's SAC defaults
otherwise (256-256 ReLU, batch 256, buffer 1e6, learning_starts 100, tau 0.005, gamma 0.99, ent_coef auto).
TD3 (hyperparams/td3.yml, Pendulum-v1): 2e4 steps, gamma 0.98, buffer 2e5, learning_starts 1e4, normal
action noise σ 0.1, train_freq 1, gradient_steps 1, learning_rate 1e-3, net_arch 400-300; SB3's TD3
defaults otherwise (batch 256, tau 0.005, policy_delay 2, target noise 0.2 clipped at 0.5).

Per seed, ours and SB3 run one after the other in this process (alternating which goes first), with
``torch.set_num_threads(--threads)``. Both final policies are scored by the same code
(``dlzoo.tasks.reinforcement.rollout_returns``: the deterministic action, test episode i reset with seed
1e9 + 1000·seed + i). Wall time is training only: ours excludes its validation rounds (the gaps before
each val row of metrics.jsonl) and includes its checkpoints; SB3 is timed around ``learn``. The records
are rewritten after every seed, so an interrupted run leaves the seeds it finished. One more run of ours,
first (--profile-steps of the SAC recipe), records where its time goes: the environment, the acting forward
passes, the updates.
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
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402
from _sb3 import sb3_baseline, summary  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.registry import get_spec  # noqa: E402
from dlzoo.runs import RunDir  # noqa: E402
from dlzoo.tasks.reinforcement import rollout_returns  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402

ENV = "Pendulum-v1"
TEST_OFFSET = 10**9  # the test seeds of ReinforcementTask.evaluate
REFERENCE = {
    "sac": {"value": -157.0, "source": "DLR-RM/rl-baselines3-zoo benchmark (SAC Pendulum-v1, 2e4 steps): -157"},
    "td3": {"value": -152.0, "source": "DLR-RM/rl-baselines3-zoo benchmark (TD3 Pendulum-v1, 2e4 steps): -152"},
}


def run_ours(algo: str, seed: int, overrides: list[str]) -> dict[str, Any]:
    cfg = resolve_config(algo, preset="pendulum", overrides=[*overrides, f"train.seed={seed}", "train.progress=false"])
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
        "final": result["test/return_mean"],
        "wall_time_s": result["wall_time_s"] - eval_time,
        "config": cfg.model_dump(mode="json"),
    }


def profile_ours(algo: str, steps: int, overrides: list[str]) -> dict[str, float]:
    """Seconds in the environment, the acting forward passes and the updates, of ``steps`` steps outside the loop."""
    from lightning_fabric import Fabric

    from dlzoo.tasks import make_task
    from dlzoo.tasks.base import Context

    cfg = resolve_config(
        algo,
        preset="pendulum",
        overrides=[*overrides, f"task.total_steps={steps}", f"task.eval_every_steps={steps}", "train.progress=false"],
    )
    fabric = Fabric(accelerator="cpu", devices=1, precision=cfg.train.precision)
    task = make_task(Context(get_spec(algo), cfg, fabric))
    task.setup()
    t = time.perf_counter()
    for _ in task.train_round(0):
        pass
    total = time.perf_counter() - t
    parts = {"env": task.env_time, **task.algo.timings}
    return {**{k: round(v, 3) for k, v in parts.items()}, "total": round(total, 3), "steps": task.step}


def run_sb3(algo: str, task: dict[str, Any], train: dict[str, Any], model: dict[str, Any], seed: int) -> dict[str, Any]:
    from stable_baselines3 import SAC, TD3
    from stable_baselines3.common.noise import NormalActionNoise

    env = gym.make(ENV)
    common = {
        "learning_rate": train["lr"],
        "batch_size": train["batch_size"],
        "buffer_size": task["buffer_size"],
        "learning_starts": task["learning_starts"],
        "gamma": task["gamma"],
        "tau": task["tau"],
        "train_freq": task["train_freq"],
        "gradient_steps": task["gradient_steps"],
        "policy_kwargs": {"net_arch": {"pi": list(model["hidden"]), "qf": list(model["critic_hidden"])}},
        "seed": seed,
        "device": "cpu",
    }
    if algo == "sac":
        agent = SAC("MlpPolicy", env, **common)
    else:
        dim = env.action_space.shape[0]
        noise = NormalActionNoise(np.zeros(dim), task["action_noise"] * np.ones(dim))
        agent = TD3(
            "MlpPolicy",
            env,
            action_noise=noise,
            policy_delay=task["policy_delay"],
            target_policy_noise=task["target_policy_noise"],
            target_noise_clip=task["target_noise_clip"],
            **common,
        )
    t = time.perf_counter()
    agent.learn(total_timesteps=task["total_steps"])
    wall = time.perf_counter() - t
    low = torch.as_tensor(env.action_space.low)
    high = torch.as_tensor(env.action_space.high)

    def deterministic(policy: torch.nn.Module, obs: torch.Tensor) -> torch.Tensor:
        unit = policy._predict(obs, deterministic=True)  # SB3's actors answer in [-1, 1]
        return low + 0.5 * (unit + 1.0) * (high - low)

    returns = rollout_returns(
        ENV, deterministic, agent.policy, episodes=task["final_eval_episodes"], seed=TEST_OFFSET + seed * 1000
    )
    return {"final": statistics.fmean(returns), "wall_time_s": wall}


def write_record(algo: str, seeds: list[int], ours: list, sb3: list, threads: int, timings: dict | None) -> None:
    import stable_baselines3

    s_ours, s_sb3 = summary(f"dlzoo {algo}", ours), summary(f"sb3 {algo}", sb3)
    episodes = ours[0]["config"]["task"]["final_eval_episodes"]
    breakdown = (
        f"; time breakdown of {timings['steps']} steps of ours (SAC recipe): environment {timings['env']} s, "
        f"acting forward passes {timings['forward']} s, updates {timings['update']} s of {timings['total']} s"
        if timings
        else ""
    )
    record(
        "offpolicy_pendulum",
        key=f"{algo}-return",
        model=algo,
        family="rl",
        dataset=ENV,
        dataset_version=f"gymnasium {gym.__version__}",
        split=f"test: {episodes} deterministic-policy episodes, reset seeds 1e9 + 1000*seed + i",
        metric="test/return_mean",
        values=s_ours["finals"],
        seeds=seeds[: len(ours)],
        wall_time_s=s_ours["wall_mean"],
        reference=REFERENCE[algo],
        baselines=[sb3_baseline(stable_baselines3.__version__, algo, s_sb3)],
        config=ours[0]["config"],
        notes=f"{len(ours)} seeds; torch threads {threads} for both, alternating per seed; wall times exclude "
        f"evaluation (ours includes its checkpoints); wall time ratio ours/SB3 "
        f"{s_ours['wall_mean'] / s_sb3['wall_mean']:.2f}{breakdown}",
        extra={"iqm": s_ours["iqm"], "wall_times_s": s_ours["walls"], "time_breakdown_s": timings},
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algos", nargs="+", choices=["sac", "td3"], default=["sac", "td3"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads, the same for both")
    ap.add_argument(
        "--profile-steps", type=int, default=2000, help="steps of the profiled SAC run of ours, run first (0: none)"
    )
    ap.add_argument("--no-sb3", action="store_true", help="skip Stable-Baselines3")
    ap.add_argument("--no-record", action="store_true", help="print only")
    ap.add_argument("overrides", nargs="*", help="dotted overrides for ours, e.g. train.precision=bf16-mixed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.overrides and not args.no_record:
        ap.error("overrides change the recipe: explore them with --no-record")
    if args.no_sb3 and not args.no_record:
        ap.error("the records carry SB3 as their baseline: --no-sb3 needs --no-record")
    overrides = [*args.overrides, f"train.threads={args.threads}"]
    cfgs = {a: resolve_config(a, preset="pendulum", overrides=args.overrides) for a in args.algos}
    ours: dict[str, list] = {a: [] for a in args.algos}
    sb3: dict[str, list] = {a: [] for a in args.algos}
    timings = None
    if args.profile_steps and "sac" in args.algos:  # first: a run cut short by the deadline still has it
        timings = profile_ours("sac", args.profile_steps, overrides)
        print(f"where our time goes (sac, {timings['steps']} steps, s): {timings}", flush=True)
    for i, seed in enumerate(args.seeds):
        for algo in args.algos:
            cfg = cfgs[algo]
            pair = [lambda a=algo, s=seed: ours[a].append(run_ours(a, s, overrides))]
            if not args.no_sb3:
                pair.append(
                    lambda a=algo, s=seed, c=cfg: sb3[a].append(
                        run_sb3(a, c.task, c.train.model_dump(), {**get_spec(a).params(), **c.model}, s)
                    )
                )
            for go in pair if i % 2 == 0 else pair[::-1]:  # alternate which library goes first
                go()
            line = f"{algo} seed {seed}: ours {ours[algo][-1]['final']:.1f} in {ours[algo][-1]['wall_time_s']:.1f} s"
            if sb3[algo]:
                line += f"; sb3 {sb3[algo][-1]['final']:.1f} in {sb3[algo][-1]['wall_time_s']:.1f} s"
            print(line, flush=True)
            if not args.no_record:
                write_record(algo, args.seeds, ours[algo], sb3[algo], args.threads, timings if algo == "sac" else None)
    for algo in args.algos:
        summary(f"dlzoo {algo}", ours[algo])
        if sb3[algo]:
            summary(f"sb3 {algo}", sb3[algo])


if __name__ == "__main__":
    main()
