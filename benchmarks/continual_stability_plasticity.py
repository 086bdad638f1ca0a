"""The stability-plasticity trade-off: EWC's lambda and SI's c swept on Split MNIST, domain-IL.

    DLZOO_DATA=../shared/data python benchmarks/continual_stability_plasticity.py --epochs 2   # record + figure
    python benchmarks/continual_stability_plasticity.py --smoke                               # Split digits

Split MNIST (5 tasks of two digits) in domain-IL, where the regularization strength decides the
outcome (van de Ven & Tolias 2019 pick EWC lambda = 1e10 and SI c = 5e4 there), the ``default``
preset's 784-400-400 MLP, Adam 1e-3, batch 128, ``--epochs`` epochs per task, train.seed = 0. For every
strength: the average test accuracy after the last task (ACC), BWT (forgetting, < 0) and the mean
accuracy of each task right after training it (plasticity: the diagonal of R). A stronger penalty
forgets less (BWT -> 0) and learns the later tasks worse (the diagonal falls). The figure is
``benchmarks/results/figures/continual/stability_plasticity.png``; one record per method holds the
whole sweep, its value the ACC at the best strength swept (chosen on the test split: a description of
the curve, not a tuned result).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402
from continual_split_mnist import timed_run  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402

SWEEP = {
    "cl_ewc": ("ewc_lambda", [1e2, 1e4, 1e6, 1e8, 1e10, 1e12]),
    "cl_si": ("si_c", [5.0, 5e1, 5e2, 5e3, 5e4, 5e5]),
}
FIGURE = Path(__file__).resolve().parent / "results" / "figures" / "continual" / "stability_plasticity.png"


def run_one(model: str, name: str, value: float, *, epochs: int, smoke: bool, root: str) -> dict:
    over = ["train.seed=0", "train.threads=1", "train.progress=false", "task.scenario=domain", f"task.{name}={value}"]
    if not smoke:
        over.append(f"train.epochs={epochs}")
    result = timed_run(
        resolve_config(model, preset="tiny" if smoke else "default", overrides=over), root, f"{name}-{value:g}"
    )
    R = torch.tensor(result["accuracy_matrix"])
    return {
        "value": value,
        "acc": 100 * result["test/acc"],
        "bwt": 100 * result["test/bwt"],
        "plasticity": 100 * float(R.diagonal().mean()),
        "wall_s": result["total_s"],
        "cfg": result["cfg"],
        "overrides": over,
    }


def draw(sweeps: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sweeps), figsize=(5 * len(sweeps), 3.6), squeeze=False)
    for ax, (model, points) in zip(axes[0], sweeps.items(), strict=True):
        xs = [p["value"] for p in points]
        for key, label in (("acc", "ACC (final average)"), ("plasticity", "mean R[i, i] (just learned)")):
            ax.semilogx(xs, [p[key] for p in points], marker="o", label=label)
        ax.semilogx(xs, [100 + p["bwt"] for p in points], marker="s", ls="--", label="100 + BWT (stability)")
        ax.set_xlabel(SWEEP[model][0])
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{model}: Split MNIST, domain-IL")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--smoke", action="store_true", help="the tiny presets on sklearn's digits; nothing recorded")
    args = p.parse_args()
    torch.set_num_threads(1)
    sweeps: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="dlzoo-clsp-") as root:
        for model, (name, values) in SWEEP.items():
            sweeps[model] = []
            for v in values:
                r = run_one(model, name, v, epochs=args.epochs, smoke=args.smoke, root=root)
                sweeps[model].append(r)
                print(
                    f"{model} {name}={v:g}: acc {r['acc']:.2f} bwt {r['bwt']:.2f} "
                    f"diag {r['plasticity']:.2f} ({r['wall_s']:.0f} s)",
                    flush=True,
                )
            if not args.smoke:  # each finished sweep is drawn and recorded at once
                draw(sweeps, FIGURE)
                write(model, sweeps[model], args.epochs)


def write(model: str, points: list[dict], epochs: int) -> None:
    best = max(points, key=lambda q: q["acc"])
    record(
        "continual_stability_plasticity",
        key=f"domain-{model}",
        model=model,
        family="continual",
        dataset="mnist",
        dataset_version=best["cfg"].info.get("dataset_version"),
        split="test: the 10000 MNIST test images, each scored in its task (5 tasks of 2 digits)",
        metric=f"domain-IL average accuracy (%) at the best {SWEEP[model][0]} of the sweep (seed 0)",
        values=[best["acc"]],
        seeds=[0],
        wall_time_s=sum(q["wall_s"] for q in points) / len(points),
        config={"preset": "default", "overrides": best["overrides"], "train": best["cfg"].train.model_dump()},
        notes=(
            f"{epochs} epochs per task, 784-400-400 MLP, Adam 1e-3, batch 128, one CPU thread; the best "
            "strength is chosen on the test split (describes the curve, not a tuned result)"
        ),
        extra={
            "sweep": [
                {k: round(q[k], 3) if k != "value" else q[k] for k in ("value", "acc", "bwt", "plasticity")}
                for q in points
            ],
            "figure": "benchmarks/results/figures/continual/stability_plasticity.png",
        },
    )


if __name__ == "__main__":
    if not os.environ.get("DLZOO_DATA") and "--smoke" not in sys.argv:
        sys.exit("set DLZOO_DATA to a folder with MNIST/ (e.g. DLZOO_DATA=../shared/data)")
    main()
