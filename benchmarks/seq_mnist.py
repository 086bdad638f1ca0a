"""Sequential MNIST, row by row (28 steps of 28 pixels): ``rnn_classifier --preset seq_mnist``, LSTM and GRU.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/seq_mnist.py --cells lstm gru --seeds 1
    DLZOO_DATA=../shared/data python benchmarks/seq_mnist.py --cells gru --no-record train.epochs=1   # a try

Target: >= 98% test accuracy for a 128-unit LSTM / GRU reading one image row per step (row-wise
sequential MNIST is the easy variant: the pixel-by-pixel one of Le, Jaitly & Hinton 2015 has 784
steps). Trained on the first 55000 training images, val = last 5000, test = the published 10000.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.runs import RunDir  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402

TARGET = 0.98


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.epochs=10")
    p.add_argument("--cells", nargs="+", default=["lstm", "gru"])
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-record", action="store_true")
    p.add_argument("--note", default="", help="appended to the record's notes (e.g. how busy the machine was)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    for cell in args.cells:
        test, val, loop_s = [], [], []
        with tempfile.TemporaryDirectory(prefix="dlzoo-seqmnist-") as tmp:
            for seed in range(args.seeds):
                cfg = resolve_config(
                    "rnn_classifier",
                    preset="seq_mnist",
                    overrides=[
                        f"model.cell={cell}",
                        *args.overrides,
                        f"train.seed={seed}",
                        f"train.threads={args.threads}",
                        "train.progress=false",
                    ],
                )
                run = RunDir.create(tmp, "rnn_classifier", f"{cell}-seed{seed}")
                result = train_run(cfg, run)
                rows = [r for r in run.read_metrics() if "val/accuracy" in r]
                val.append(rows[-1]["val/accuracy"] if rows else float("nan"))
                test.append(result["test/accuracy"])
                loop_s.append(result["wall_time_s"])
                print(
                    f"{cell} seed {seed}: test/accuracy {test[-1]:.4f} val/accuracy {val[-1]:.4f} "
                    f"loop {loop_s[-1]:.0f} s; val curve {[round(r['val/accuracy'], 4) for r in rows]}",
                    flush=True,
                )
        if args.no_record:
            continue
        record(
            "seq_mnist",
            key=cell,
            model="rnn_classifier",
            family="rnn",
            dataset="seq_mnist",
            dataset_version=cfg.info.get("dataset_version"),
            split="test: the published 10000 test images; train: first 55000 training images, val: last 5000",
            metric="test/accuracy",
            values=test,
            seeds=list(range(args.seeds)),
            wall_time_s=statistics.fmean(loop_s),
            reference={
                "value": TARGET,
                "source": "target >= 98% for a 128-unit LSTM/GRU reading MNIST row by row (28 steps of 28 "
                "pixels); no single published number for this setting",
            },
            config=cfg.model_dump(mode="json"),
            notes=f"{cell}; {args.threads} torch thread(s) on a {os.cpu_count()}-core machine shared with other jobs; "
            "fused torch kernels (model.fused=true); wall_time_s = the loop's training time"
            + (f"; {args.note}" if args.note else ""),
            extra={"val_accuracy": val, "overrides": args.overrides},
        )


if __name__ == "__main__":
    main()
