"""Encoder-decoder Transformer on the synthetic tasks: ``seq2seq --preset <task>`` through dlzoo's loop.

    flock /tmp/dlzoo-bench.lock python benchmarks/seq2seq_tasks.py --tasks sort addition copy reverse --seeds 1
    python benchmarks/seq2seq_tasks.py --tasks sort --seeds 1 --no-record train.epochs=1   # a try

Targets: sort (6 numbers from {0, 1, 2}, as in minGPT's demo, Karpathy 2020,
``projects/demo.ipynb``, which reaches 100% on held-out sequences) 100% exact match on held-out
test sequences; 3-digit addition >= 99% exact match. Copy and reverse (1..10 digits) are recorded
beside them. Per task and seed the script records the test exact match (greedy decoding) and the
steps it took: the optimizer steps at the end of the first epoch whose validation exact match was
100% (and >= 99%; val is evaluated once per epoch), and the total steps of the preset.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record

from dlzoo.config import resolve_config
from dlzoo.runs import RunDir
from dlzoo.training.loop import train_run

TASKS = ("sort", "addition", "copy", "reverse")
TARGETS = {
    "sort": (
        1.0,
        (
            "minGPT demo (Karpathy 2020, mingpt projects/demo.ipynb): sort 6 numbers from {0,1,2}, "
            "100% on held-out sequences"
        ),
    ),
    "addition": (
        0.99,
        "target >= 99% exact match on held-out 3-digit additions (cf. karpathy/minGPT projects/adder: "
        "a GPT trained from scratch to add n-digit numbers)",
    ),
    "copy": (1.0, "a solved task: 100% expected"),
    "reverse": (1.0, "a solved task: 100% expected"),
}
SPLITS = {
    "sort": "test: 100 distinct held-out sequences of 6 symbols from {0,1,2} (never in train; val: 100 more)",
    "addition": "test: 1000 distinct held-out operand pairs a+b, a, b < 1000 (never in train; val: 500 more)",
    "copy": "test: 1000 distinct held-out sources of 1..10 digits (never in train; val: 500 more)",
    "reverse": "test: 1000 distinct held-out sources of 1..10 digits (never in train; val: 500 more)",
}


def steps_to_solve(rows: list[dict], key: str = "val/exact_match", level: float = 1.0) -> int | None:
    """Optimizer steps at the first validation whose exact match reached ``level`` (None: never)."""
    return next((int(r["step"]) for r in rows if r.get(key, -1.0) >= level), None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="dotted overrides for every task, e.g. train.epochs=3")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--seeds", type=int, default=1, help="model seeds 0..seeds-1 (the data seed stays 0)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: the machine is shared)")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    for task in args.tasks:
        exact, tokens, solved, solved99, loop_s, steps = [], [], [], [], [], []
        with tempfile.TemporaryDirectory(prefix=f"dlzoo-{task}-") as tmp:
            for seed in range(args.seeds):
                cfg = resolve_config(
                    "seq2seq",
                    preset=task,
                    overrides=[
                        *args.overrides,
                        f"train.seed={seed}",
                        f"train.threads={args.threads}",
                        "train.progress=false",
                    ],
                )
                run = RunDir.create(tmp, "seq2seq", f"{task}-seed{seed}")
                t0 = time.perf_counter()
                result = train_run(cfg, run)
                rows = run.read_metrics()
                exact.append(result["test/exact_match"])
                tokens.append(result["test/token_accuracy"])
                solved.append(steps_to_solve(rows))
                solved99.append(steps_to_solve(rows, level=0.99))
                loop_s.append(result["wall_time_s"])
                steps.append(result["steps"])
                curve = " ".join(f"{r['val/exact_match']:.3f}" for r in rows if "val/exact_match" in r)
                print(
                    f"{task} seed {seed}: test/exact_match {exact[-1]:.4f}  test/token_accuracy {tokens[-1]:.4f}  "
                    f"val 99% at step {solved99[-1]}, 100% at step {solved[-1]} of {steps[-1]}  "
                    f"loop {loop_s[-1]:.0f} s  "
                    f"total {time.perf_counter() - t0:.0f} s\n  val exact match per epoch: {curve}",
                    flush=True,
                )
        target, source = TARGETS[task]
        print(f"{task}: test/exact_match {statistics.fmean(exact):.4f} (target {target})", flush=True)
        if args.no_record:
            continue
        record(
            "seq2seq_tasks",
            key=task,
            model="seq2seq",
            family="transformer",
            dataset=task,
            dataset_version=cfg.info.get("dataset_version"),
            split=SPLITS[task],
            metric="test/exact_match",
            values=exact,
            seeds=list(range(args.seeds)),
            wall_time_s=statistics.fmean(loop_s),
            reference={"value": target, "source": source},
            config=cfg.model_dump(mode="json"),
            notes=f"{args.threads} torch thread(s) on a {os.cpu_count()}-core machine shared with other jobs "
            "(wall times are inflated); greedy decoding; wall_time_s = the loop's time (eval.json); "
            "steps_to_val_100 (_99) = optimizer steps at the first per-epoch validation "
            "with 100% (>= 99%) exact match.",
            extra={
                "token_accuracy": tokens,
                "steps_to_val_100": solved,
                "steps_to_val_99": solved99,
                "total_steps": steps,
                "preset": task,
                "overrides": args.overrides,
            },
        )


if __name__ == "__main__":
    main()
