"""VAE on binarized MNIST: test NLL by importance sampling (K = 1000) and test negative ELBO.

    flock /tmp/dlzoo-bench.lock python benchmarks/vae_mnist.py                 # the recorded run
    python benchmarks/vae_mnist.py --smoke                                       # 1 epoch, K = 10, records nothing

Model: ``vae_mlp`` preset ``mnist``: 784-400-40 MLP encoder and decoder (ReLU), Bernoulli decoder,
Adam lr 1e-3, batch 100 (Kingma & Welling 2014; the 40-latent model of Rezende & Mohamed 2015 and of
pythae's reproduction). Data: LeCun's MNIST, binarized once by a seeded Bernoulli draw of the grey
levels (``binarize=stochastic``, seed 0), 50000 train / 10000 val (the last 10000 training images) /
10000 test, the protocol of Larochelle & Murray's (2011) fixed binarization but not their exact draw.

The published 89.9 nats come after 500 epochs (Rezende & Mohamed 2015, Table 2); on this 2-core CPU
the run is capped at ``--epochs`` chosen so that training takes at most about 15 minutes of wall
time (one seed). It goes through the dlzoo loop (``train_run``); its run directory is kept under
``--runs``. The learning curve (train and val neg ELBO per epoch, final test values) is saved as
``benchmarks/results/vae_mnist-curve.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, record  # noqa: E402

os.environ.setdefault("DLZOO_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))  # ../shared/data

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.runs import RunDir, default_run_name  # noqa: E402
from dlzoo.training import train_run  # noqa: E402

REFERENCE = {
    "value": 89.9,
    "source": "Rezende & Mohamed 2015 (arXiv:1505.05770) Table 2, VAE/DLGM with diagonal Gaussian posterior, "
    "40 latents, binarized MNIST; pythae reproduces 89.78 (IS K=200, 500 epochs, "
    "Larochelle-Murray static binarization)",
}
SPLIT = "test: the 10000 published MNIST test images; train = first 50000, val = last 10000 training images"


def curve(run: RunDir, result: dict, path: Path, *, epochs: int) -> Path:
    """Per-epoch train (mean of logged steps) and val neg ELBO, the final test values as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train: dict[int, list[float]] = defaultdict(list)
    val: dict[int, float] = {}
    for row in run.read_metrics():
        if "train/neg_elbo" in row:
            train[row["round"]].append(row["train/neg_elbo"])
        if "val/neg_elbo" in row:
            val[row["round"]] = row["val/neg_elbo"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(
        [r + 1 for r in sorted(train)],
        [sum(v) / len(v) for _, v in sorted(train.items())],
        label="train neg ELBO (mean over the epoch)",
    )
    ax.plot([r + 1 for r in sorted(val)], [val[r] for r in sorted(val)], marker="o", ms=3, label="val neg ELBO")
    ax.scatter(
        [epochs], [result["test/neg_elbo"]], color="C3", zorder=3, label=f"test neg ELBO {result['test/neg_elbo']:.2f}"
    )
    if "test/nll" in result:
        ax.scatter(
            [epochs],
            [result["test/nll"]],
            color="C2",
            marker="*",
            s=90,
            zorder=3,
            label=f"test NLL (IS, K={result.get('k', '?')}) {result['test/nll']:.2f}",
        )
    ax.axhline(REFERENCE["value"], color="gray", ls="--", lw=1, label="published 89.9 (500 epochs)")
    lo = min([*val.values(), result.get("test/nll", 1e9), REFERENCE["value"]]) - 3
    ax.set_ylim(lo, lo + 60)
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per image")
    ax.set_title("vae_mlp (784-400-40) on binarized MNIST")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=70, help="training epochs (70: about 14 min at 12 s per epoch)")
    ap.add_argument("--k", type=int, default=1000, help="importance samples of the test NLL (>= 1000 recorded)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (1: on a shared 2-core machine 2 threads ran 10x slower)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=Path, default=Path("/tmp/dlzoo-bench/runs"), help="run directory root")
    ap.add_argument("--smoke", action="store_true", help="1 epoch, K = 10, nothing recorded")
    args = ap.parse_args()
    if args.smoke:
        args.epochs, args.k = 1, 10
    torch.set_num_threads(args.threads)

    overrides = [
        f"train.epochs={args.epochs}",
        f"train.seed={args.seed}",
        f"train.threads={args.threads}",
        f"task.eval_iw_samples={args.k}",
        "train.progress=false",
        f"train.checkpoint_every={max(1, args.epochs // 6)}",
    ]
    cfg = resolve_config("vae_mlp", preset="mnist", overrides=overrides)
    run = RunDir.create(args.runs, "vae_mlp", ("smoke-" if args.smoke else "") + default_run_name())
    t0 = time.perf_counter()
    result = train_run(cfg, run)
    total = time.perf_counter() - t0
    result["k"] = args.k
    train_s, eval_s = result["wall_time_s"], total - result["wall_time_s"]
    print(
        f"run {run.path}: {args.epochs} epochs in {train_s:.0f} s ({train_s / args.epochs:.1f} s/epoch), "
        f"final test evaluation (K={args.k}) {eval_s:.0f} s"
    )
    print({k: round(v, 3) for k, v in result.items() if k.startswith("test/")})
    png = curve(
        run, result, (run.path / "curve.png") if args.smoke else RESULTS / "vae_mnist-curve.png", epochs=args.epochs
    )
    print(f"curve: {png}")
    if args.smoke:
        return

    common = dict(
        model="vae_mlp",
        family="autoencoder",
        dataset="mnist (binarized)",
        dataset_version=cfg.info["dataset_version"],
        split=SPLIT,
        seeds=[args.seed],
        wall_time_s=train_s,
        higher_is_better=False,
        config={**cfg.model_dump(mode="json"), "threads": args.threads},
        extra={
            "epochs": args.epochs,
            "importance_samples": args.k,
            "final_eval_s": round(eval_s, 1),
            "run_dir": str(run.path),
            "curve": "benchmarks/results/vae_mnist-curve.png",
            "test": {k: v for k, v in result.items() if k.startswith("test/")},
        },
    )
    budget = (
        f"one seed, {args.epochs} epochs (~{train_s / 60:.0f} min of training on {os.cpu_count()} CPU cores) "
        f"instead of the reference's 500 epochs, so the number sits above 89.9 by the unfinished training"
    )
    record(
        "vae_mnist",
        key="nll",
        metric="test/nll",
        values=[result["test/nll"]],
        reference=REFERENCE,
        notes=f"importance-sampled NLL, K={args.k} (Burda et al. 2016 eq. 8); {budget}",
        **common,
    )
    record(
        "vae_mnist",
        key="neg_elbo",
        metric="test/neg_elbo",
        values=[result["test/neg_elbo"]],
        reference=None,
        notes=f"negative ELBO, one z ~ q per image, closed-form KL; {budget}",
        **common,
    )


if __name__ == "__main__":
    main()
