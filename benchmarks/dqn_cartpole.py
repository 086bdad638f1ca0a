"""DQN on CartPole-v1: dlzoo's ``dqn`` against Stable-Baselines3's DQN, both with the RL Zoo hyperparameters.

    flock /tmp/dlzoo-bench.lock python benchmarks/dqn_cartpole.py                    # seeds 0 1 2, records
    python benchmarks/dqn_cartpole.py --seeds 10 11 12 --no-sb3 --no-record task.double_dqn=true   # exploring

Per seed, ours and SB3 run one after the other in this process (interleaved, so a change in the
machine's load hits both), each with ``torch.set_num_threads(--threads)``. Both are evaluated by the
same code (``dlzoo.tasks.reinforcement.rollout_returns``: greedy actions, episode i reset with seed
``offset + 1000·seed + i``): every ``eval_every_steps`` env steps on ``eval_episodes`` validation
episodes (SB3: a callback at EvalCallback's cadence), and after training on ``final_eval_episodes``
test episodes, twice: with the last weights and with the weights of the best validation round (the
latest of equals: dlzoo's ``train.keep_best`` on ``val/return_mean``, SB3's EvalCallback
``best_model``). Evaluation time is excluded from both wall times; ours includes its checkpoints (the
loop's price for exact resume).

Ours runs the ``default`` preset with ``train.keep_best`` (the ``stable`` preset): training is
identical to ``default`` (keep_best only copies weights after validation), so one run gives both the
``default`` result (the last weights, read back from checkpoints/last.ckpt) and the ``stable`` one
(eval.json). Records: ``dqn_cartpole-default-return.json`` (last weights),
``dqn_cartpole-stable-return.json`` (best validation round), ``dqn_cartpole-steps_to_500.json``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import mean_sd, record  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.registry import create_model  # noqa: E402
from dlzoo.runs import RunDir  # noqa: E402
from dlzoo.tasks.reinforcement import rollout_returns  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402

ENV = "CartPole-v1"
VAL_OFFSET, TEST_OFFSET = 10**8, 10**9  # the seed offsets of ReinforcementTask.evaluate
AUTHOR_SB3 = {
    "value": 339.0,
    "source": "DLR-RM/stable-baselines3 DQN with the DLR-RM/rl-baselines3-zoo CartPole-v1 hyperparameters, "
    "50k steps, 3 seeds: 339 ± 278 (one seed collapsed to 18), 31.6 s, in a reference run before the dlzoo runs",
}


def greedy(model: torch.nn.Module, obs: torch.Tensor) -> torch.Tensor:
    return model(obs).argmax(-1)


def test_return(model: torch.nn.Module, task: dict[str, Any], seed: int) -> float:
    return statistics.fmean(
        rollout_returns(ENV, greedy, model, episodes=task["final_eval_episodes"], seed=TEST_OFFSET + seed * 1000)
    )


# -- ours -------------------------------------------------------------------------------------------


def run_ours(seed: int, overrides: list[str]) -> dict[str, Any]:
    cfg = resolve_config(
        "dqn",
        preset="default",
        overrides=[
            *overrides,
            "train.keep_best={monitor: val/return_mean, mode: max, ties_improve: true}",
            f"train.seed={seed}",
            "train.progress=false",
        ],
    )
    with tempfile.TemporaryDirectory() as root:
        run = RunDir.create(root, "dqn", f"seed{seed}")
        result = train_run(cfg, run)
        rows = run.read_metrics()
        last = create_model("dqn", **cfg.model_args())  # cfg.model now holds obs_dim and n_actions
        last.load_state_dict(run.load_checkpoint()["model"])
    evals, eval_time, last_train_time = [], 0.0, 0.0
    for row in rows:  # a val row follows the round's last train row: the gap is the evaluation
        if "val/return_mean" in row:
            evals.append(
                {"step": row["step"], "train_time_s": last_train_time - eval_time, "return": row["val/return_mean"]}
            )
            eval_time += row["time"] - last_train_time
        else:
            last_train_time = row["time"]
    return {
        "evals": evals,
        "final_last": test_return(last, cfg.task, seed),
        "final_best": result["test/return_mean"],
        "eval_time_s": eval_time,
        "wall_time_s": result["wall_time_s"] - eval_time,
        "config": cfg.model_dump(mode="json"),
    }


# -- Stable-Baselines3 ------------------------------------------------------------------------------


def run_sb3(task: dict[str, Any], train: dict[str, Any], hidden: list[int], seed: int) -> dict[str, Any]:
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    class Evaluate(BaseCallback):
        """EvalCallback's cadence and best-model rule (>=, so the latest of equals), our evaluation code,
        its time excluded."""

        def __init__(self) -> None:
            super().__init__()
            self.evals: list[dict[str, float]] = []
            self.eval_time, self.best_return, self.best = 0.0, -float("inf"), None

        def _on_training_start(self) -> None:
            self.t0 = time.perf_counter()

        def _on_step(self) -> bool:
            if self.n_calls % task["eval_every_steps"] == 0:
                t = time.perf_counter()
                mean = statistics.fmean(
                    rollout_returns(
                        ENV, greedy, self.model.q_net, episodes=task["eval_episodes"], seed=VAL_OFFSET + seed * 1000
                    )
                )
                self.evals.append(
                    {"step": self.num_timesteps, "train_time_s": t - self.t0 - self.eval_time, "return": mean}
                )
                if mean >= self.best_return:
                    self.best_return, self.best = mean, copy.deepcopy(self.model.q_net.state_dict())
                self.eval_time += time.perf_counter() - t
            return True

    model = DQN(
        "MlpPolicy",
        gym.make(ENV),
        learning_rate=train["lr"],
        batch_size=train["batch_size"],
        buffer_size=task["buffer_size"],
        learning_starts=task["learning_starts"],
        gamma=task["gamma"],
        target_update_interval=task["target_update_interval"],
        train_freq=task["train_freq"],
        gradient_steps=task["gradient_steps"],
        exploration_fraction=task["exploration_fraction"],
        exploration_initial_eps=task["exploration_initial_eps"],
        exploration_final_eps=task["exploration_final_eps"],
        max_grad_norm=train["grad_clip"],
        policy_kwargs={"net_arch": list(hidden)},
        seed=seed,
        device="cpu",
    )
    callback = Evaluate()
    t = time.perf_counter()
    model.learn(total_timesteps=task["total_steps"], callback=callback)
    wall = time.perf_counter() - t - callback.eval_time
    final_last = test_return(model.q_net, task, seed)
    best = copy.deepcopy(model.q_net)
    best.load_state_dict(callback.best)
    return {
        "evals": callback.evals,
        "final_last": final_last,
        "final_best": test_return(best, task, seed),
        "eval_time_s": callback.eval_time,
        "wall_time_s": wall,
    }


# -- report -----------------------------------------------------------------------------------------


def summary(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"curves": [[(e["step"], e["return"]) for e in r["evals"]] for r in runs]}
    for which in ("last", "best"):
        values = [r[f"final_{which}"] for r in runs]
        out[which] = values
        out[f"{which}_mean"], out[f"{which}_sd"] = mean_sd(values)
    out["wall"] = [r["wall_time_s"] for r in runs]
    out["wall_mean"], out["wall_sd"] = mean_sd(out["wall"])
    reached = [next((e for e in r["evals"] if e["return"] >= 500.0), None) for r in runs]
    out["steps_to_500"] = [e["step"] if e else None for e in reached]
    out["time_to_500_s"] = [round(e["train_time_s"], 2) if e else None for e in reached]
    out["reached"] = f"{sum(e is not None for e in reached)}/{len(runs)}"
    print(
        f"{name:>6}: last {out['last_mean']:6.1f} ± {out['last_sd']:5.1f} {[round(v, 1) for v in out['last']]}"
        f"  best-val {out['best_mean']:6.1f} ± {out['best_sd']:5.1f} {[round(v, 1) for v in out['best']]}"
        f"  wall {out['wall_mean']:5.1f} ± {out['wall_sd']:4.1f} s  val 500 reached {out['reached']} at steps "
        f"{out['steps_to_500']} ({out['time_to_500_s']} s)",
        flush=True,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads, the same for both")
    ap.add_argument("--no-sb3", action="store_true", help="skip Stable-Baselines3")
    ap.add_argument("--no-record", action="store_true", help="print only")
    ap.add_argument("overrides", nargs="*", help="dotted overrides for ours, e.g. task.double_dqn=true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.overrides and not args.no_record:
        ap.error("overrides change the recipe: explore them with --no-record")
    if args.no_sb3 and not args.no_record:
        ap.error("the records carry SB3 as their baseline: --no-sb3 needs --no-record")

    cfg = resolve_config("dqn", preset="default", overrides=args.overrides)  # SB3 takes the numbers it knows
    ours, sb3 = [], []
    for seed in args.seeds:
        ours.append(run_ours(seed, [*args.overrides, f"train.threads={args.threads}"]))
        o = ours[-1]
        print(
            f"seed {seed} ours: {[(e['step'], e['return']) for e in o['evals']]} last {o['final_last']:.1f} "
            f"best {o['final_best']:.1f} wall {o['wall_time_s']:.1f} s (+{o['eval_time_s']:.1f} s eval)",
            flush=True,
        )
        if not args.no_sb3:
            sb3.append(run_sb3(cfg.task, cfg.train.model_dump(), cfg.model["hidden"], seed))
            b = sb3[-1]
            print(
                f"seed {seed}  sb3: {[(e['step'], e['return']) for e in b['evals']]} last {b['final_last']:.1f} "
                f"best {b['final_best']:.1f} wall {b['wall_time_s']:.1f} s (+{b['eval_time_s']:.1f} s eval)",
                flush=True,
            )
    s_ours = summary("dlzoo", ours)
    s_sb3 = summary("sb3", sb3) if sb3 else None
    if args.no_record:
        return

    import stable_baselines3

    sb3_name = f"stable-baselines3 {stable_baselines3.__version__} DQN, same hyperparameters, measured here"
    episodes = cfg.task["final_eval_episodes"]
    common = {
        "model": "dqn",
        "family": "rl",
        "dataset": ENV,
        "dataset_version": f"gymnasium {gym.__version__}",
        "seeds": args.seeds,
        "config": ours[0]["config"],
        "split": f"test: {episodes} greedy episodes, reset seeds 1e9 + 1000*seed + i",
    }
    notes = (
        f"torch threads {args.threads} for both, run interleaved per seed; wall times exclude evaluation "
        f"(ours includes its checkpoints); validation every {cfg.task['eval_every_steps']} steps on "
        f"{cfg.task['eval_episodes']} episodes (seeds 1e8 + 1000*seed + i)"
    )
    for which, preset, what in (
        ("last", "default", "the last weights"),
        ("best", "stable", "the weights of the best validation round (latest of equals)"),
    ):
        record(
            "dqn_cartpole",
            key=f"{preset}-return",
            metric="test/return_mean",
            values=s_ours[which],
            wall_time_s=s_ours["wall_mean"],
            reference=AUTHOR_SB3,
            baselines=[
                {
                    "name": f"{sb3_name}, {what}",
                    "value": s_sb3[f"{which}_mean"],
                    "sd": s_sb3[f"{which}_sd"],
                    "values": s_sb3[which],
                    "wall_time_s": s_sb3["wall_mean"],
                    "wall_times_s": s_sb3["wall"],
                }
            ],
            notes=f"preset {preset!r}: test return of {what}; " + notes,
            extra={
                "preset": preset,
                "wall_times_s": s_ours["wall"],
                "val_curves": s_ours["curves"],
                "sb3_val_curves": s_sb3["curves"],
            },
            **common,
        )
    hit = [float(s) for s in s_ours["steps_to_500"] if s is not None]
    sb3_hit = [float(s) for s in s_sb3["steps_to_500"] if s is not None]
    if hit:
        record(
            "dqn_cartpole",
            key="steps_to_500",
            metric="steps_to_500",
            values=hit,
            higher_is_better=False,
            wall_time_s=statistics.fmean(t for t in s_ours["time_to_500_s"] if t is not None),
            baselines=[
                {
                    "name": sb3_name,
                    "value": statistics.fmean(sb3_hit) if sb3_hit else None,
                    "sd": statistics.stdev(sb3_hit) if len(sb3_hit) > 1 else None,
                    "per_seed_steps": s_sb3["steps_to_500"],
                    "per_seed_time_s": s_sb3["time_to_500_s"],
                    "reached_500": s_sb3["reached"],
                    "wall_time_s": statistics.fmean(t for t in s_sb3["time_to_500_s"] if t is not None)
                    if sb3_hit
                    else None,
                }
            ],
            notes=f"env steps at the first validation whose mean return is 500 (seeds reaching it: "
            f"{s_ours['reached']}; values list only those); wall_time_s: training time until then; " + notes,
            extra={
                "per_seed_steps": s_ours["steps_to_500"],
                "per_seed_time_s": s_ours["time_to_500_s"],
                "reached_500": s_ours["reached"],
            },
            **common,
        )


if __name__ == "__main__":
    main()
