"""MNIST super-resolution with each upsampling block: test PSNR, SSIM and checkerboard score vs bicubic.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/superres_mnist.py --seeds 2
    DLZOO_DATA=../shared/data python benchmarks/superres_mnist.py --seeds 1 --limit 500 --no-record   # a try

``upsampler --preset mnist`` (14x14 -> 28x28) and ``--preset mnist_x4`` (7x7 -> 28x28) with
block = transpose k=3 (uneven overlap), transpose k=4 (even), resize k=3, shuffle k=3 + ICNR: the same
trunk, only the upsampling layers differ. Low-resolution inputs are 2x / 4x area averages of the
images (data/superres.py). ``data.limit=--limit`` keeps the first N images of each split (CPU
budget: the machine's 2 cores are shared, see the record's notes): train = the first N of the first
55000 training images, val = the first N of the last 5000, test = the first N of the published 10000
test images; ``--epochs`` epochs, val evaluated once at the end.

Baseline: bicubic interpolation of the same inputs (``F.interpolate(mode="bicubic")``, clipped to
[0, 1]), what a user would pick without a model. Published claim (Shi et al. 2016, ESPCN, Tables 1-2):
the sub-pixel network beats bicubic by roughly +2 dB at x3 on natural images (Set5: bicubic 30.39 dB);
on MNIST we record what we measure. Writes benchmarks/results/superres-x{2,4}-*.json
and benchmarks/results/figures/checkerboard/superres_x{2,4}.png (input / bicubic / each block / truth).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from dlzoo.config import resolve_config
from dlzoo.data import load_dataset
from dlzoo.families.deconv.objective import SuperResObjective
from dlzoo.metrics.artifacts import checkerboard_score
from dlzoo.runs import RunDir, load_run
from dlzoo.training.loop import train_run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, record  # noqa: E402

BLOCKS = [
    ("transpose_k3", "transpose", 3),
    ("transpose_k4", "transpose", 4),
    ("resize_k3", "resize", 3),
    ("shuffle_icnr", "shuffle", 3),
]
METRICS = ("psnr", "ssim", "checkerboard", "parity")
SHOW = 6  # test digits in the figure


def baseline(factor: int, limit: int) -> tuple[dict[str, float], torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bicubic metrics on the (limited) test set, and (x, bicubic, y) of the first SHOW test digits."""
    data = load_dataset("superres", source="mnist", factor=factor, limit=limit)
    objective = SuperResObjective(SuperResObjective.Config(artifact_stride=factor))
    bicubic = F.interpolate(data.test.x, scale_factor=factor, mode="bicubic")  # (N, 1, 28, 28)
    metrics = objective.metrics(bicubic, data.test.y, data.train.y)
    metrics["truth_checkerboard"] = float(checkerboard_score(data.test.y.reshape(bicubic.shape), stride=factor))
    return metrics, data.test.x[:SHOW], bicubic[:SHOW].clamp(0, 1), data.test.y[:SHOW].reshape(-1, 1, 28, 28)


def figure(
    factor: int, x: torch.Tensor, bicubic: torch.Tensor, outs: dict[str, torch.Tensor], y: torch.Tensor, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [("input", x), ("bicubic", bicubic), *outs.items(), ("truth", y)]
    fig, axes = plt.subplots(len(x), len(cols), figsize=(1.2 * len(cols), 1.25 * len(x)))
    for c, (title, imgs) in enumerate(cols):
        for r in range(len(x)):
            ax = axes[r, c]
            ax.imshow(imgs[r, 0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(title.replace("_", "\n"), fontsize=7)
    fig.suptitle(f"MNIST x{factor} super-resolution (test digits; seed 0)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--factors", type=int, nargs="+", default=[2, 4])
    p.add_argument("--limit", type=int, default=5000, help="training images used (first N of the 55000)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    seeds = list(range(args.seeds))
    for factor in args.factors:
        base, x_show, bic_show, y_show = baseline(factor, args.limit)
        print(f"x{factor} bicubic: " + " ".join(f"{k} {v:.4f}" for k, v in base.items()), flush=True)
        shown: dict[str, torch.Tensor] = {}
        for label, kind, kernel in BLOCKS:
            per_seed: dict[str, list[float]] = {k: [] for k in (*METRICS, "val_psnr", "wall_s")}
            with tempfile.TemporaryDirectory(prefix="dlzoo-superres-") as tmp:
                for seed in seeds:
                    cfg = resolve_config(
                        "upsampler",
                        preset="mnist" if factor == 2 else "mnist_x4",
                        overrides=[
                            f"model.block={kind}",
                            f"model.kernel_size={kernel}",
                            f"train.epochs={args.epochs}",
                            f"data.limit={args.limit}",
                            f"train.seed={seed}",
                            f"train.threads={args.threads}",
                            f"train.eval_every={args.epochs}",
                            "train.progress=false",
                        ],
                    )
                    run = RunDir.create(tmp, "upsampler", f"{label}-s{seed}")
                    result = train_run(cfg, run)
                    for k in METRICS:
                        per_seed[k].append(result[f"test/{k}"])
                    rows = [r for r in run.read_metrics() if "val/psnr" in r]
                    per_seed["val_psnr"].append(rows[-1]["val/psnr"] if rows else float("nan"))
                    per_seed["wall_s"].append(result["wall_time_s"])
                    print(
                        f"  x{factor} {label} seed {seed}: "
                        + " ".join(f"{k} {per_seed[k][-1]:.4f}" for k in METRICS)
                        + f"  ({result['wall_time_s']:.0f} s)",
                        flush=True,
                    )
                    if seed == 0:
                        with torch.no_grad():
                            shown[label] = load_run(run.path).model(x_show).clamp(0, 1)
            mean = {k: statistics.fmean(v) for k, v in per_seed.items()}
            print(f"x{factor} {label}: " + " ".join(f"{k} {mean[k]:.4f}" for k in METRICS), flush=True)
            if args.no_record:
                continue
            record(
                "superres",
                key=f"x{factor}-{label}",
                model=f"upsampler ({label.replace('_', ' ')})",
                family="deconv",
                dataset=f"mnist x{factor} ({28 // factor}->28)",
                dataset_version=cfg.info.get("dataset_version"),
                split=f"test: first {args.limit} of the published 10000 test images; train: first {args.limit} "
                "training images; val: first N of the last 5000 training images",
                metric="test/psnr (dB)",
                values=per_seed["psnr"],
                seeds=seeds,
                wall_time_s=mean["wall_s"],
                reference={
                    "value": None,
                    "source": "Shi et al. 2016 (ESPCN), Tables 1-2: sub-pixel CNN beats "
                    "bicubic by roughly 2 dB on natural images (Set5 x3); no MNIST number published",
                },
                baselines=[
                    {
                        "name": "bicubic",
                        "value": base["psnr"],
                        "sd": 0.0,
                        "ssim": base["ssim"],
                        "checkerboard": base["checkerboard"],
                    }
                ],
                config=cfg.model_dump(mode="json"),
                notes=f"{args.epochs} epochs on {args.limit} training images (scaled down from the preset's 5 epochs "
                "on 55000 for CPU); one torch thread on a 2-core machine shared with 3 other jobs, so wall "
                "times are inflated; checkerboard = fraction of HF energy at the stride-factor alias "
                "frequencies (lower is better; truth_checkerboard = score of the real test images)",
                extra={
                    "ssim": per_seed["ssim"],
                    "checkerboard": per_seed["checkerboard"],
                    "parity": per_seed["parity"],
                    "val_psnr": per_seed["val_psnr"],
                    "truth_checkerboard": base["truth_checkerboard"],
                    "bicubic": base,
                    "epochs": args.epochs,
                    "limit": args.limit,
                },
            )
        figure(
            factor, x_show, bic_show, shown, y_show, RESULTS / "figures" / "checkerboard" / f"superres_x{factor}.png"
        )


if __name__ == "__main__":
    main()
