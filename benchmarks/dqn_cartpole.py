"""DQN on CartPole-v1: dlzoo's ``dqn`` against Stable-Baselines3's DQN, both with the RL Zoo hyperparameters.

    flock /tmp/dlzoo-bench.lock python benchmarks/dqn_cartpole.py                     # preset default, seeds 0 1 2
    flock /tmp/dlzoo-bench.lock python benchmarks/dqn_cartpole.py --preset stable --no-sb3
    python benchmarks/dqn_cartpole.py --seeds 3 4 --no-record task.double_dqn=true    # exploring settings

Per seed, ours and SB3 run one after the other in this process (interleaved, so a change in the
machine's load hits both), each with ``torch.set_num_threads(--threads)``. Both are evaluated with
the same code (``dlzoo.tasks.reinforcement.rollout_returns``: greedy actions, environment i reset with
seed ``offset + 1000·seed + i``): every ``eval_every_steps`` env steps on ``eval_episodes`` validation
episodes, and after the last step on ``final_eval_episodes`` test episodes. Evaluation time is
excluded from both wall times; ours includes its checkpoints (the loop's price for exact resume).

Per run: the env steps and training wall time at the first evaluation whose mean return is 500 (the
maximum), the final test return, and the wall time of the whole 50k steps. Recorded:
``dqn_cartpole-<preset>-return.json`` (test/return_mean) and ``dqn_cartpole-<preset>-steps_to_500.json``.
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
from _record import mean_sd, record  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.runs import RunDir  # noqa: E402
from dlzoo.tasks.reinforcement import rollout_returns  # noqa: E402
from dlzoo.train.loop import train_run  # noqa: E402

ENV = "CartPole-v1"
VAL_OFFSET, TEST_OFFSET = 10**8, 10**9  # the seed offsets of ReinforcementTask.evaluate
AUTHOR_SB3 = {"value": 339.0, "sd": 278.0, "wall_time_s": 31.6,
              "source": "SB3 DQN + RL Zoo CartPole-v1 hyperparameters, 50k steps, 3 seeds (one collapsed to 18), "
                        "measured by the issue author"}


def greedy(model: torch.nn.Module, obs: torch.Tensor) -> torch.Tensor:
    return model(obs).argmax(-1)


def first_500(evals: list[dict[str, float]]) -> dict[str, float] | None:
    return next((e for e in evals if e["return"] >= 500.0), None)


# -- ours -------------------------------------------------------------------------------------------

def run_ours(preset: str, seed: int, overrides: list[str]) -> dict[str, Any]:
    cfg = resolve_config("dqn", preset=preset, overrides=[*overrides, f"train.seed={seed}", "train.progress=false"])
    with tempfile.TemporaryDirectory() as root:
        run = RunDir.create(root, "dqn", f"seed{seed}")
        result = train_run(cfg, run)
        rows = run.read_metrics()
    evals, eval_time, last_train_time = [], 0.0, 0.0
    for row in rows:  # a val row follows the round's last train row: the gap is the evaluation
        if "val/return_mean" in row:
            evals.append({"step": row["step"], "train_time_s": last_train_time - eval_time,
                          "return": row["val/return_mean"]})
            eval_time += row["time"] - last_train_time
        else:
            last_train_time = row["time"]
    return {"evals": evals, "final_return": result["test/return_mean"], "eval_time_s": eval_time,
            "wall_time_s": result["wall_time_s"] - eval_time, "config": cfg.model_dump(mode="json")}


# -- Stable-Baselines3 ------------------------------------------------------------------------------

def run_sb3(task: dict[str, Any], train: dict[str, Any], hidden: list[int], seed: int) -> dict[str, Any]:
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    class Evaluate(BaseCallback):
        """EvalCallback's cadence (every eval_every_steps calls), our evaluation code, its time excluded."""

        def __init__(self) -> None:
            super().__init__()
            self.evals: list[dict[str, float]] = []
            self.eval_time = 0.0

        def _on_training_start(self) -> None:
            self.t0 = time.perf_counter()

        def _on_step(self) -> bool:
            if self.n_calls % task["eval_every_steps"] == 0:
                t = time.perf_counter()
                returns = rollout_returns(ENV, greedy, self.model.q_net, episodes=task["eval_episodes"],
                                          seed=VAL_OFFSET + seed * 1000)
                self.evals.append({"step": self.num_timesteps, "train_time_s": t - self.t0 - self.eval_time,
                                   "return": statistics.fmean(returns)})
                self.eval_time += time.perf_counter() - t
            return True

    model = DQN("MlpPolicy", gym.make(ENV), learning_rate=train["lr"], batch_size=train["batch_size"],
                buffer_size=task["buffer_size"], learning_starts=task["learning_starts"], gamma=task["gamma"],
                target_update_interval=task["target_update_interval"], train_freq=task["train_freq"],
                gradient_steps=task["gradient_steps"], exploration_fraction=task["exploration_fraction"],
                exploration_initial_eps=task["exploration_initial_eps"],
                exploration_final_eps=task["exploration_final_eps"], max_grad_norm=train["grad_clip"],
                policy_kwargs={"net_arch": list(hidden)}, seed=seed, device="cpu")
    callback = Evaluate()
    t = time.perf_counter()
    model.learn(total_timesteps=task["total_steps"], callback=callback)
    wall = time.perf_counter() - t - callback.eval_time
    returns = rollout_returns(ENV, greedy, model.q_net, episodes=task["final_eval_episodes"],
                              seed=TEST_OFFSET + seed * 1000)
    return {"evals": callback.evals, "final_return": statistics.fmean(returns), "eval_time_s": callback.eval_time,
            "wall_time_s": wall}


# -- report -----------------------------------------------------------------------------------------

def summary(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    final = [r["final_return"] for r in runs]
    reached = [first_500(r["evals"]) for r in runs]
    hit = [e for e in reached if e is not None]
    m, sd = mean_sd(final)
    w, wsd = mean_sd([r["wall_time_s"] for r in runs])
    line = f"{name:>6}: final {m:6.1f} ± {sd:5.1f} {[round(f, 1) for f in final]}  wall {w:5.1f} ± {wsd:4.1f} s"
    line += f"  reached 500: {len(hit)}/{len(runs)} at steps {[e['step'] if e else None for e in reached]}"
    line += f" ({[round(e['train_time_s'], 1) if e else None for e in reached]} s)"
    print(line, flush=True)
    return {"final": final, "final_mean": m, "final_sd": sd, "wall": [r["wall_time_s"] for r in runs],
            "wall_mean": w, "wall_sd": wsd, "reached": f"{len(hit)}/{len(runs)}",
            "steps_to_500": [e["step"] if e else None for e in reached],
            "time_to_500_s": [round(e["train_time_s"], 2) if e else None for e in reached],
            "curves": [[(e["step"], e["return"]) for e in r["evals"]] for r in runs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads, the same for both")
    ap.add_argument("--no-sb3", action="store_true", help="skip Stable-Baselines3 (keeps no baseline)")
    ap.add_argument("--no-record", action="store_true", help="print only")
    ap.add_argument("overrides", nargs="*", help="dotted overrides for ours, e.g. task.double_dqn=true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cfg = resolve_config("dqn", preset=args.preset, overrides=args.overrides)
    ours, sb3 = [], []
    for seed in args.seeds:
        ours.append(run_ours(args.preset, seed, args.overrides))
        print(f"seed {seed} ours: {ours[-1]['evals']} final {ours[-1]['final_return']:.1f} "
              f"wall {ours[-1]['wall_time_s']:.1f} s (+{ours[-1]['eval_time_s']:.1f} s eval)", flush=True)
        if not args.no_sb3:
            sb3.append(run_sb3(cfg.task, cfg.train.model_dump(), cfg.model["hidden"], seed))
            print(f"seed {seed}  sb3: {sb3[-1]['evals']} final {sb3[-1]['final_return']:.1f} "
                  f"wall {sb3[-1]['wall_time_s']:.1f} s (+{sb3[-1]['eval_time_s']:.1f} s eval)", flush=True)
    s_ours = summary("dlzoo", ours)
    s_sb3 = summary("sb3", sb3) if sb3 else None
    if args.no_record:
        return

    import stable_baselines3

    sb3_name = f"stable-baselines3 {stable_baselines3.__version__} DQN, same hyperparameters (measured here)"
    split = (f"test: {cfg.task['final_eval_episodes']} greedy episodes, reset seeds 1e9 + 1000*seed + i; "
             f"val every {cfg.task['eval_every_steps']} steps: {cfg.task['eval_episodes']} episodes")
    common = dict(model="dqn", family="rl", dataset=ENV, dataset_version=f"gymnasium {gym.__version__}",
                  seeds=args.seeds, split=split, config=ours[0]["config"])
    notes = (f"torch threads {args.threads} for both; wall times exclude evaluation (ours includes checkpoints); "
             f"preset {args.preset!r}, overrides {args.overrides}")
    base_return = [{"name": sb3_name, "value": s_sb3["final_mean"], "sd": s_sb3["final_sd"], "values": s_sb3["final"],
                    "wall_time_s": s_sb3["wall_mean"], "wall_times_s": s_sb3["wall"],
                    "reached_500": s_sb3["reached"]}] if s_sb3 else []
    record("dqn_cartpole", key=f"{args.preset}-return", metric="test/return_mean", values=s_ours["final"],
           wall_time_s=s_ours["wall_mean"], reference={"value": AUTHOR_SB3["value"], "source": AUTHOR_SB3["source"]},
           baselines=base_return, notes=notes,
           extra={"wall_times_s": s_ours["wall"], "reached_500": s_ours["reached"], "val_curves": s_ours["curves"],
                  "sb3_val_curves": s_sb3["curves"] if s_sb3 else None}, **common)
    hit = [float(s) for s in s_ours["steps_to_500"] if s is not None]
    base_steps = [{"name": sb3_name, "values": s_sb3["steps_to_500"], "time_to_500_s": s_sb3["time_to_500_s"],
                   "reached_500": s_sb3["reached"],
                   **({"value": mean_sd([float(s) for s in s_sb3["steps_to_500"] if s is not None])[0]}
                      if any(s is not None for s in s_sb3["steps_to_500"]) else {})}] if s_sb3 else []
    if hit:
        record("dqn_cartpole", key=f"{args.preset}-steps_to_500", metric="steps_to_500", values=hit,
               higher_is_better=False, wall_time_s=statistics.fmean(t for t in s_ours["time_to_500_s"] if t is not None),
               baselines=base_steps, notes=notes + f"; env steps at the first evaluation with mean return 500 "
               f"(seeds reaching it: {s_ours['reached']}; values list only those); wall_time_s: training time to it",
               extra={"per_seed_steps": s_ours["steps_to_500"], "per_seed_time_s": s_ours["time_to_500_s"],
                      "reached_500": s_ours["reached"]}, **common)


if __name__ == "__main__":
    main()
