"""The digits cell table (every cell of the 125-cell space x 3 seeds) and strategies simulated on it.

    flock /tmp/dlzoo-bench.lock nice -n 5 python benchmarks/nas_tabular.py --build   # ~8 min: the table
    python benchmarks/nas_tabular.py                 # 100 repeats x 5 strategies on the table (~1 min)
    python benchmarks/nas_tabular.py --smoke         # 2 cells, 2 repeats, nothing written or recorded

--build trains each cell of ``families/nas/spaces/cell_digits.yaml`` (nas_cell, 16 channels, one cell)
on scikit-learn's 8x8 digits (dlzoo's ``digits_images`` split: 20% test, 20% of the rest val) for the
``default`` preset's 5 epochs of Adam (lr 5e-3, batch 64; 5 epochs so that 375 trainings fit ~10 min),
once per seed 0, 1, 2, on one thread, and
writes ``src/dlzoo/families/nas/data/digits_cells.json`` (per cell: val accuracy after every epoch and
final test accuracy per seed, parameter count). The simulation then replays the table (tabular.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.families.nas.presets import TABLE_TRAIN  # noqa: E402
from dlzoo.families.nas.space import SearchSpace  # noqa: E402
from dlzoo.families.nas.tabular import DATA_DIR, Table, random_seeds, simulate  # noqa: E402
from dlzoo.registry import create_model  # noqa: E402

TABLE = DATA_DIR / "digits_cells.json"
STRATEGIES = [("random", "none"), ("evolution", "none"), ("tpe", "none"), ("local", "none"), ("tpe", "hyperband")]


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train_cell(genotype: str, data, *, seed: int, epochs: int, channels: int = 16) -> dict:
    """The preset's recipe as a plain loop (the dlzoo loop's run directories would cost more than the cell)."""
    torch.manual_seed(seed)
    model = create_model("nas_cell", genotype=genotype, channels=channels, input_shape=(1, 8, 8), num_classes=10)
    opt = torch.optim.Adam(model.parameters(), lr=TABLE_TRAIN["lr"])
    x, y = data.train.x, data.train.y
    g = torch.Generator().manual_seed(seed)
    val = []
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=g).split(TABLE_TRAIN["batch_size"]):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        val.append(round(accuracy(model, data.val.x, data.val.y), 5))
    test = round(accuracy(model, data.test.x, data.test.y), 5)
    return {"val": val, "test": test, "params": sum(p.numel() for p in model.parameters())}


def build(smoke: bool, n_seeds: int = 3) -> None:
    torch.set_num_threads(1)
    space = SearchSpace.load("cell_digits")
    data = load_dataset("digits_images", val_size=0.2)
    configs = space.enumerate()[: 2 if smoke else None]
    seeds = list(range(n_seeds))
    t0 = time.perf_counter()
    cells = {}
    for k, params in enumerate(configs):
        g = space.overrides(params)["model.genotype"]
        runs = [train_cell(g, data, seed=s, epochs=TABLE_TRAIN["epochs"]) for s in seeds]
        cells[g] = {"val": [r["val"] for r in runs], "test": [r["test"] for r in runs], "params": runs[0]["params"]}
        print(f"{k + 1}/{len(configs)} {g} test {np.mean(cells[g]['test']):.4f} ({time.perf_counter() - t0:.0f} s)")
    wall = time.perf_counter() - t0
    from dlzoo.hardware import hardware

    table = {
        "space": space.to_dict(),
        "epochs": TABLE_TRAIN["epochs"],
        "seeds": seeds,
        "made_with": {
            "command": f"python benchmarks/nas_tabular.py --build --seeds {n_seeds}",
            "data": "scikit-learn digits via dlzoo digits_images(val_size=0.2): " + json.dumps(data.info.splits),
            "model": "nas_cell, channels=16, cells=1 (stem conv3x3-BN, cell, BN-ReLU, GAP, linear)",
            "train": {**TABLE_TRAIN, "optimizer": "Adam", "threads": 1},
            "wall_time_s": round(wall, 1),
            "hardware": hardware(),
        },
        "cells": cells,
    }
    if smoke:
        print(f"smoke: {len(cells)} cells in {wall:.1f} s; nothing written")
        return
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {TABLE} ({len(cells)} cells, {wall:.0f} s)")


def run_simulation(repeats: int, budget: int, smoke: bool) -> None:
    from _record import record

    table = Table.load(TABLE)
    t0 = time.perf_counter()
    curves, per_run = {}, {}
    for strategy, pruner in STRATEGIES:
        name = strategy if pruner == "none" else f"{strategy}+{pruner}"
        regrets = [
            simulate(table, strategy, budget=budget, seed=s, pruner=pruner)["regret"] for s in random_seeds(repeats)
        ]
        per_run[name] = np.stack(regrets)  # (repeats, budget)
        curves[name] = np.nanmean(per_run[name], axis=0)
        print(name, " ".join(f"{b}:{100 * curves[name][b - 1]:.2f}" for b in (5, 10, 20, 30, 50) if b <= budget))
    wall = time.perf_counter() - t0
    if smoke:
        return
    results_dir = ROOT / "benchmarks" / "results"
    results_dir.mkdir(exist_ok=True)
    plot = results_dir / "nas_tabular_regret.png"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, c in curves.items():
        ax.plot(np.arange(1, budget + 1), 100 * c, label=name)
    ax.set_xlabel("evaluated cells (full-training equivalents)")
    ax.set_ylabel("test regret (accuracy points)")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_title(f"digits cell table, mean of {repeats} searches")
    ax.legend()
    fig.tight_layout()
    fig.savefig(plot, dpi=120)
    checkpoints = [b for b in (5, 10, 20, 30, 50, 75, 100) if b <= budget]
    at = 20
    k = len(table.raw["seeds"])
    split = f"search on validation accuracy (mean of {k} seeds), regret on test accuracy (mean of {k} seeds)"
    rand = per_run["random"][:, at - 1]
    for name, runs in per_run.items():
        curve = curves[name]
        record(
            "nas_tabular",
            key=name.replace("+", "_"),
            model="nas_cell",
            family="nas",
            dataset="digits (scikit-learn), 125-cell table",
            metric=f"test_regret@{at} (accuracy points)",
            values=[round(100 * float(v), 3) for v in runs[:, at - 1]],
            seeds=list(range(repeats)),
            wall_time_s=wall / len(per_run),
            split=split,
            higher_is_better=False,
            reference={
                "value": None,
                "source": "Dong & Yang 2020 (NAS-Bench-201, ICLR): regularised evolution and BOHB beat random search; "
                "White et al. 2021 (local search is competitive on small cell spaces)",
            },
            baselines=[
                {
                    "name": f"random search, same table, same {repeats} repeats",
                    "value": round(100 * float(np.nanmean(rand)), 3),
                    "sd": None,
                    "wall_time_s": None,
                }
            ],
            config={
                "table": str(TABLE.relative_to(ROOT)),
                "budget": budget,
                "strategy": name,
                "evolution": {"population": 10, "sample_size": 3},
                "tpe": {"n_startup_trials": 10},
                "hyperband": {"min_resource": 1, "max_resource": table.epochs, "reduction_factor": 3},
            },
            notes=(
                f"mean regret curve (accuracy points) at {checkpoints} evaluated cells: "
                + ", ".join(f"{b}: {100 * curve[b - 1]:.2f}" for b in checkpoints)
                + f". Table best test accuracy {100 * table.best_test:.2f}%, median "
                f"{100 * float(np.median(list(table.test.values()))):.2f}%, built by `nas_tabular.py --build` in "
                f"{table.raw['made_with']['wall_time_s']} s. tpe+hyperband counts a pruned trial by the epochs it ran. "
                "Plot: benchmarks/results/nas_tabular_regret.png"
            ),
            extra={"regret_curve": [round(100 * float(v), 4) for v in curve]},
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", action="store_true", help="train every cell and write the table")
    ap.add_argument("--smoke", action="store_true", help="tiny run, nothing written")
    ap.add_argument("--seeds", type=int, default=3, help="--build: training seeds per cell")
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--budget", type=int, default=60)
    a = ap.parse_args()
    if a.build:
        build(a.smoke, a.seeds)
    else:
        run_simulation(2 if a.smoke else a.repeats, 10 if a.smoke else a.budget, a.smoke)


if __name__ == "__main__":
    main()
