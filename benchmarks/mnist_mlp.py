"""MNIST with the classic 2 x 800 MLP: ``mlp_classifier --preset mnist`` through dlzoo's own loop.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/mnist_mlp.py --seeds 3 --threads 2
    DLZOO_DATA=../shared/data python benchmarks/mnist_mlp.py --seeds 1 --no-record train.epochs=5   # a try

Target: >= 98.4% test accuracy, the 1.6% error of a 2-layer MLP with 800 hidden units trained with
cross-entropy and no distortions (Simard, Steinkraus & Platt 2003, "Best practices for convolutional
neural networks applied to visual document analysis", ICDAR, Table 1). The preset trains on the
first 55000 training images and holds out the last 5000 as val (used for the preset's choices);
the test set is the published 10000 images, read once at the end of each run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402
from _seeds import train_seeds  # noqa: E402

TARGET = 0.984


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.epochs=10")
    p.add_argument("--preset", default="mnist")
    p.add_argument("--seeds", type=int, default=2, help="model seeds 0..seeds-1")
    p.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads: the machine's 2 cores (use 1 when other "
        "jobs share them: two threads then spin-wait for each other and run 2-3x slower)",
    )
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    runs = train_seeds(
        "mlp_classifier", preset=args.preset, overrides=args.overrides, seeds=args.seeds, threads=args.threads
    )
    test, val, loop_s, total_s, cfg = runs.test, runs.val, runs.loop_s, runs.total_s, runs.cfg
    print(f"test/accuracy {statistics.fmean(test):.4f} (target {TARGET}); loop {statistics.fmean(loop_s):.0f} s/seed")
    if args.no_record:
        return
    record(
        "mnist_mlp",
        key="mlp_classifier",
        model="mlp_classifier",
        family="mlp",
        dataset="mnist",
        dataset_version=cfg.info.get("dataset_version"),
        split="test: the published 10000 test images; "
        "train: first 55000 training images, val: last 5000 (model selection only)",
        metric="test/accuracy",
        values=test,
        seeds=list(range(args.seeds)),
        wall_time_s=statistics.fmean(loop_s),
        reference={
            "value": TARGET,
            "source": "Simard, Steinkraus & Platt 2003, Table 1: 2-layer MLP, 800 HU, "
            "cross-entropy, no distortions, 1.6% error",
        },
        config=cfg.model_dump(mode="json"),
        notes=f"{args.threads} torch threads, {os.cpu_count()} cores; wall_time_s = "
        "the loop's training time (eval.json wall_time_s: epochs incl. per-epoch val and checkpoints); "
        "total_wall_s adds data loading, the test evaluation and plots.",
        extra={
            "val_accuracy": val,
            "total_wall_s": statistics.fmean(total_s),
            "preset": args.preset,
            "overrides": args.overrides,
        },
    )


if __name__ == "__main__":
    main()
