"""DARTS on the digits cell space, with and without DARTS-'s auxiliary skip; the found cells looked up in the table.

    flock /tmp/dlzoo-bench.lock nice -n 5 python benchmarks/nas_darts.py      # ~4 min: 2 seeds x 2 variants x 15 epochs
    python benchmarks/nas_darts.py --smoke                                      # 1 epoch, nothing recorded

First-order DARTS (families/nas/darts.py) searches on the training split of dlzoo's digits_images
(halves for weights and for alpha); the derived cell's true accuracy is its mean test accuracy in
the table (benchmarks/nas_tabular.py --build), so the search is judged without retraining.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.families.nas.darts import search  # noqa: E402
from dlzoo.families.nas.tabular import Table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seeds", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(1)
    epochs, seeds = (1, [0]) if a.smoke else (a.epochs, list(range(a.seeds)))
    table = Table.load()
    data = load_dataset("digits_images", val_size=0.2)
    t0 = time.perf_counter()
    out = {}
    for guard in (False, True):
        name = "darts-" if guard else "darts"
        runs = [search(data.train.x, data.train.y, epochs=epochs, seed=s, aux_skip=guard) for s in seeds]
        acc = [table.test[r.genotype] for r in runs]
        share = np.mean([[h["skip_share"] for h in r.history] for r in runs], axis=0)
        out[name] = {"acc": acc, "share": share, "genotypes": [r.genotype for r in runs]}
        print(name, [r.genotype for r in runs], "test acc", acc, "skip share per epoch", np.round(share, 2).tolist())
    wall = time.perf_counter() - t0
    if a.smoke:
        return
    from _record import record

    best = table.best_test
    for name, o in out.items():
        record(
            "nas_darts",
            key=name.replace("-", "_minus"),
            model="nas_cell",
            family="nas",
            dataset="digits (scikit-learn), 125-cell table",
            metric="test accuracy of the found cell (table, %)",
            values=[round(100 * v, 2) for v in o["acc"]],
            seeds=seeds,
            wall_time_s=wall / (2 * len(seeds)),
            split="search: digits_images train split in halves (weights / alpha); accuracy: the table's mean test",
            reference={
                "value": round(100 * best, 2),
                "source": "best cell of the table (benchmarks/nas_tabular.py --build)",
            },
            baselines=[
                {
                    "name": "median cell of the table",
                    "value": round(100 * float(np.median(list(table.test.values()))), 2),
                    "sd": None,
                    "wall_time_s": None,
                }
            ],
            config={
                "epochs": epochs,
                "channels": 16,
                "batch_size": 64,
                "lr_w": 5e-3,
                "lr_alpha": 3e-3,
                "first_order": True,
                "guard": "DARTS- auxiliary skip, beta 1 -> 0 linearly" if "-" in name else "none",
            },
            notes=f"found cells {o['genotypes']}; skip share (fraction of the 3 edges whose argmax op is skip_connect, "
            f"mean over seeds) per epoch: {np.round(o['share'], 2).tolist()}",
            extra={"skip_share": [round(float(v), 3) for v in o["share"]], "genotypes": o["genotypes"]},
        )


if __name__ == "__main__":
    main()
