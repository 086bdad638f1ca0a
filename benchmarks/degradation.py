"""The degradation study of He et al. (2016), small: plain vs residual networks of growing depth on MNIST.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/degradation.py --seeds 1
    DLZOO_DATA=../shared/data python benchmarks/degradation.py --depths 4 16 --no-record train.epochs=2  # a try
    DLZOO_DATA=../shared/data python benchmarks/degradation.py --seeds 2 --unlocked   # what was recorded

He, Zhang, Ren & Sun (2016), "Deep residual learning for image recognition", CVPR, Sec. 4.1 and
Fig. 1 / Fig. 4 / Table 2: a deeper plain network has a *higher training error* than a shallower one
(degradation, not overfitting), while its residual counterpart gets better with depth.

Here: ``resmlp_classifier --preset depth`` (width 64, BatchNorm, no dropout) with ``residual`` true or
false and n_blocks = (depth - 2) / 2, i.e. depth 4, 8, 16, 32, 64 weighted layers; the first 10000
MNIST training images (flattened), the published 10000 test images; Adam 1e-3, batch 128, 10 epochs,
the same budget for every network. Training error is measured after training, in eval mode, on the
10000 training images. Writes benchmarks/results/degradation-{plain,residual}.json and the plot
benchmarks/results/degradation.png (training and test error against depth).
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
from _record import RESULTS, record

from dlzoo.config import resolve_config
from dlzoo.runs import RunDir, load_run
from dlzoo.training.loop import train_run

MODEL = "resmlp_classifier"


@torch.no_grad()
def train_error(run: RunDir, x: torch.Tensor, y: torch.Tensor) -> float:
    model = load_run(run.path).model.eval()
    pred = torch.cat([model(xb).argmax(-1) for xb in x.split(2048)])
    return float((pred != y).float().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="dotted overrides for every run, e.g. train.epochs=5")
    p.add_argument("--depths", type=int, nargs="+", default=[4, 8, 16, 32, 64], help="even, >= 4")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-record", action="store_true")
    p.add_argument(
        "--unlocked",
        dest="locked",
        action="store_false",
        help="say in the record that the run was not under /tmp/dlzoo-bench.lock",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from dlzoo.data import load_dataset

    table: dict[str, dict[int, dict[str, list[float]]]] = {"plain": {}, "residual": {}}
    walls: list[float] = []
    cfg = None
    with tempfile.TemporaryDirectory(prefix="dlzoo-degradation-") as tmp:
        for depth in args.depths:
            for variant in ("plain", "residual"):
                cell = table[variant].setdefault(depth, {"train_error": [], "test_error": []})
                for seed in range(args.seeds):
                    cfg = resolve_config(
                        MODEL,
                        preset="depth",
                        overrides=[
                            *args.overrides,
                            f"model.n_blocks={(depth - 2) // 2}",
                            f"model.residual={variant == 'residual'}",
                            f"train.seed={seed}",
                            f"train.threads={args.threads}",
                            "train.progress=false",
                        ],
                    )
                    run = RunDir.create(tmp, MODEL, f"{variant}-{depth}-{seed}")
                    t0 = time.perf_counter()
                    result = train_run(cfg, run)
                    walls.append(time.perf_counter() - t0)
                    data = load_dataset("mnist", **cfg.data_args())
                    cell["train_error"].append(train_error(run, data.train.x, data.train.y))
                    cell["test_error"].append(1 - result["test/accuracy"])
                    print(
                        f"{variant:8s} depth {depth:3d} seed {seed}: train error {cell['train_error'][-1]:.4f}  "
                        f"test error {cell['test_error'][-1]:.4f}  ({walls[-1]:.0f} s)",
                        flush=True,
                    )
    print("\n| depth | plain train err | plain test err | residual train err | residual test err |")
    print("|---:|---:|---:|---:|---:|")
    for depth in args.depths:
        cells = [
            statistics.fmean(table[v][depth][k]) for v in ("plain", "residual") for k in ("train_error", "test_error")
        ]
        print(f"| {depth} | " + " | ".join(f"{c:.4f}" for c in cells) + " |")
    if args.no_record:
        return
    plot(table, args.depths, RESULTS / "degradation.png")
    deepest = max(args.depths)
    for variant in ("plain", "residual"):
        record(
            "degradation",
            key=variant,
            model=f"{MODEL} (residual={variant == 'residual'})",
            family="resnet",
            dataset="mnist (first 10000 training images)",
            dataset_version=cfg.info.get("dataset_version"),
            split="train error on the 10000 training images (eval mode); test: the published 10000",
            metric=f"train error at depth {deepest}",
            values=table[variant][deepest]["train_error"],
            seeds=list(range(args.seeds)),
            wall_time_s=statistics.fmean(walls),
            higher_is_better=False,
            reference={
                "value": None,
                "source": "He et al. 2016, Fig. 4 / Table 2: plain-34 has higher training "
                "error than plain-18; ResNet-34 lower than ResNet-18 (ImageNet)",
            },
            config=cfg.model_dump(mode="json"),
            notes=f"{args.threads} torch thread(s) on a {os.cpu_count()}-core machine shared with other jobs"
            + (
                ""
                if args.locked
                else ", NOT run under the benchmark lock (the errors are the result; the "
                "wall time is inflated by concurrent jobs and not comparable)"
            )
            + "; wall_time_s = mean per network (all depths). Full table in 'by_depth'.",
            extra={
                "by_depth": {str(d): {k: v for k, v in table[variant][d].items()} for d in args.depths},
                "overrides": args.overrides,
            },
        )


def plot(table: dict, depths: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharex=True)
    for ax, key, title in zip(axes, ("train_error", "test_error"), ("training error", "test error"), strict=True):
        for variant, style in (("plain", "o--"), ("residual", "s-")):
            ax.plot(depths, [100 * statistics.fmean(table[variant][d][key]) for d in depths], style, label=variant)
        ax.set_xscale("log", base=2)
        ax.set_xticks(depths, [str(d) for d in depths])
        ax.set_xlabel("depth (weighted layers)")
        ax.set_ylabel(f"{title} (%)")
        ax.set_title(f"MNIST, 10k images: {title}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
