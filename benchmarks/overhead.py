"""Overhead of dlzoo's supervised loop: training samples/s of ``train_run`` against a plain PyTorch loop.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/overhead.py
    python benchmarks/overhead.py --data random --reps 3        # MNIST-shaped random data, no files

Both loops train the same model (``create_model("mlp_classifier", ...)`` with the same arguments and
initial weights) on the same tensors with the same batch size and optimizer (Adam, lr 1e-3). The plain
loop is what one writes by hand::

    for epoch: perm = randperm(n); for each batch: x[idx], y[idx] -> forward -> cross_entropy
               -> zero_grad -> backward -> Adam step

dlzoo runs through ``resolve_config`` + ``train_run`` (Lightning Fabric, TensorBatches, the metrics
logger, per-epoch checkpoints, the run directory). What is timed is the same in both: each training
epoch from its first batch to its last optimizer step (in dlzoo, ``SupervisedTask.train_round`` is
wrapped, so the loop's per-step work -- logging, progress -- is inside the timing, and data loading,
validation, checkpoints and the final evaluation are outside). Epoch 0 is a warm-up and is dropped
from both. Both use plain cross-entropy (the preset's label smoothing is switched off). Repetitions
alternate which loop goes first; the recorded number is the ratio dlzoo / plain of samples per second
per repetition (median reported; must be >= 0.95), by the wall clock and, steadier on a machine shared
with other jobs, by this process's CPU time (``time.process_time``; with one thread it counts only the
work done). ``end_to_end`` compares whole training (all epochs, dlzoo's checkpoints included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.data import DataInfo, Split, TensorData, load_dataset, register_dataset  # noqa: E402
from dlzoo.registry import create_model  # noqa: E402
from dlzoo.runs import RunDir  # noqa: E402
from dlzoo.tasks import supervised  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402

ROUND_TIMES: list[tuple[float, float]] = []  # (wall, CPU) seconds of each training round of the current dlzoo run


def timed_train_round(original: Any) -> Any:
    """Wrap ``SupervisedTask.train_round``: time from its first batch to the end of its last step."""

    def train_round(self: Any, round_idx: int) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        yield from original(self, round_idx)
        ROUND_TIMES.append((time.perf_counter() - t0, time.process_time() - c0))

    return train_round


supervised.SupervisedTask.train_round = timed_train_round(supervised.SupervisedTask.train_round)


@register_dataset("overhead_random", modality="images")
def overhead_random(*, n: int = 20000, seed: int = 0) -> TensorData:
    """MNIST-shaped random data: x uniform in [0, 1] (N, 784), y uniform over 10 classes."""
    g = torch.Generator().manual_seed(seed)
    train = Split(torch.rand(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g))
    test = Split(torch.rand(1000, 784, generator=g), torch.randint(0, 10, (1000,), generator=g))
    info = DataInfo(
        name="overhead_random",
        version="random",
        task="classify",
        input_shape=(784,),
        num_classes=10,
        class_names=tuple(map(str, range(10))),
        splits={"train": n, "test": 1000},
        split_note="random",
    )
    return TensorData(train=train, val=None, test=test, info=info)


def data_section(args: argparse.Namespace) -> tuple[str, list[str]]:
    if args.data == "mnist":
        return "mnist", ["data.flatten=true", "data.val_size=0", f"data.limit={args.n}"]
    return "overhead_random", [f"data.n={args.n}"]


def run_dlzoo(
    args: argparse.Namespace, hidden: list[int], root: Path, rep: int
) -> tuple[list[tuple[float, float]], float]:
    """((wall, CPU) seconds of each epoch, the loop's training wall time incl. checkpoints) of one train_run."""
    name, data_overrides = data_section(args)
    cfg = resolve_config(
        "mlp_classifier",
        preset="mnist",
        data=name,
        overrides=[
            *data_overrides,
            f"model.hidden={hidden}",
            "model.dropout=0.2",
            "model.standardize_input=false",
            "task.label_smoothing=0",
            f"train.epochs={args.epochs}",
            f"train.batch_size={args.batch_size}",
            "train.lr=0.001",
            "train.scheduler=none",
            "train.progress=false",
            "train.seed=0",
            f"train.threads={args.threads}",
        ],
    )
    ROUND_TIMES.clear()
    result = train_run(cfg, RunDir.create(root, "mlp_classifier", f"rep{rep}-{'x'.join(map(str, hidden))}"))
    return list(ROUND_TIMES), float(result["wall_time_s"])


def run_plain(
    x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace, hidden: list[int]
) -> list[tuple[float, float]]:
    """The hand-written loop; returns the (wall, CPU) seconds of each epoch."""
    torch.manual_seed(0)
    model = create_model(
        "mlp_classifier", in_features=784, num_classes=10, hidden=tuple(hidden), dropout=0.2, standardize_input=False
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    times = []
    for _ in range(args.epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        perm = torch.randperm(len(x))
        for start in range(0, len(x), args.batch_size):
            idx = perm[start : start + args.batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["mnist", "random"], default="mnist", help="mnist needs DLZOO_DATA")
    p.add_argument("--n", type=int, default=20000, help="training samples per epoch")
    p.add_argument("--epochs", type=int, default=4, help="epochs per run (the first is warm-up)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--reps", type=int, default=7, help="repetitions, alternating which loop runs first")
    p.add_argument("--hidden", nargs="+", default=["800,800", "256"], help="models: comma-separated widths")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for both loops (1: steadier timings "
        "on a shared machine, where two threads spin-wait for each other)",
    )
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    name, data_overrides = data_section(args)
    data_args = dict(o.removeprefix("data.").split("=") for o in data_overrides)
    train = load_dataset(name, **data_args).train  # the same tensors train_run loads
    x, y = train.x.reshape(len(train.x), -1), train.y
    for spec in args.hidden:
        hidden = [int(h) for h in spec.split(",")]
        ratios, cpu_ratios, ours_sps, plain_sps, e2e = [], [], [], [], []
        with tempfile.TemporaryDirectory(prefix="dlzoo-overhead-") as tmp:
            for rep in range(args.reps):
                order = ["dlzoo", "plain"] if rep % 2 == 0 else ["plain", "dlzoo"]
                for which in order:
                    if which == "dlzoo":
                        ours, ours_wall = run_dlzoo(args, hidden, Path(tmp), rep)
                    else:
                        plain = run_plain(x, y, args, hidden)
                # samples/s over epochs 1.. (epoch 0 is warm-up), by the wall clock and by this process's CPU time
                o, q = (len(x) / statistics.fmean(t[0] for t in ts[1:]) for ts in (ours, plain))
                oc, qc = (len(x) / statistics.fmean(t[1] for t in ts[1:]) for ts in (ours, plain))
                ours_sps.append(o)
                plain_sps.append(q)
                ratios.append(o / q)
                cpu_ratios.append(oc / qc)
                e2e.append(sum(t[0] for t in plain) / ours_wall)
                print(
                    f"hidden={hidden} rep {rep} ({' then '.join(order)}): dlzoo {o:,.0f} samples/s, plain {q:,.0f} "
                    f"samples/s, ratio {o / q:.3f} (CPU time {oc / qc:.3f}); end to end {e2e[-1]:.3f}",
                    flush=True,
                )
        median, cpu_median = statistics.median(ratios), statistics.median(cpu_ratios)
        print(
            f"hidden={hidden}: median ratio {median:.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}); by CPU time "
            f"{cpu_median:.3f}; end to end median {statistics.median(e2e):.3f}"
        )
        if args.no_record:
            continue
        key = f"{args.data}-{'x'.join(map(str, hidden))}"
        record(
            "overhead",
            key=key,
            model="mlp_classifier",
            family="mlp",
            dataset=name,
            dataset_version=load_dataset(name, **data_args).info.version,
            split=f"train: first {args.n} samples, batch {args.batch_size}",
            metric="train/samples_per_s ratio dlzoo/plain",
            values=ratios,
            seeds=list(range(args.reps)),
            wall_time_s=statistics.fmean(len(x) / s for s in ours_sps),
            reference={"value": 0.95, "source": "requirement: dlzoo's loop at >= 95% of a plain PyTorch loop"},
            baselines=[
                {
                    "name": "plain PyTorch loop (samples/s)",
                    "value": statistics.median(plain_sps),
                    "sd": statistics.stdev(plain_sps) if len(plain_sps) > 1 else 0.0,
                    "wall_time_s": statistics.fmean(len(x) / s for s in plain_sps),
                }
            ],
            config={
                "hidden": hidden,
                "dropout": 0.2,
                "batch_size": args.batch_size,
                "optimizer": "adam",
                "lr": 1e-3,
                "epochs": args.epochs,
                "n": args.n,
                "threads": args.threads,
            },
            notes=(
                "value = mean of per-repetition wall-clock ratios; median_ratio is the headline, cpu_median_ratio "
                "the same by this process's CPU time (insensitive to other jobs on the machine). Timed: training "
                "epochs 1.. only (epoch 0 = warm-up); data loading, validation, checkpoints and the final "
                "evaluation are outside both; end_to_end_ratio = plain's whole epochs / dlzoo's loop wall time "
                "(checkpoints included). wall_time_s = seconds per epoch of dlzoo."
            ),
            extra={
                "median_ratio": median,
                "cpu_median_ratio": cpu_median,
                "cpu_ratios": cpu_ratios,
                "dlzoo_samples_per_s": ours_sps,
                "plain_samples_per_s": plain_sps,
                "end_to_end_ratios": e2e,
                "end_to_end_median": statistics.median(e2e),
            },
        )


if __name__ == "__main__":
    main()
