"""The UCR-29 table: every UCR record beside Fawaz et al.'s published accuracies, with mean accuracy,
mean rank, win/tie/loss and a paired Wilcoxon test; written into the cnn family README.

    python benchmarks/ucr_summary.py            # rewrite the README section between the ucr29 markers
    python benchmarks/ucr_summary.py --print    # print it instead

Columns: ours (``ucr-<model>-<dataset>.json``, the fast ``ucr`` preset, mean over its seeds; the
``fawaz2019`` preset where recorded), the published means (``ucr_reference.csv``) and the non-deep
1-NN baselines (``ucr_nn.py``). Ranks are over the columns of one row (1 = best, ties share the mean
rank), averaged over the datasets where every column has a number; win/tie/loss and Wilcoxon compare
ours with the published figure of the same architecture on the datasets both have (a tie: equal to 3
decimals).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
from scipy.stats import rankdata, wilcoxon

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS
from _ucr import reference

README = Path(__file__).resolve().parents[1] / "src/dlzoo/families/cnn/README.md"
BEGIN, END = "<!-- ucr29:begin -->", "<!-- ucr29:end -->"
#: (column title, record model, record key suffix) for our runs and the baselines
OURS = (("FCN ours", "fcn_tsc", ""), ("ResNet ours", "resnet_tsc", ""))
BASELINES = (("1-NN DTW", "nn_dtw", ""), ("1-NN ED", "nn_euclidean", ""))
PUBLISHED = (("FCN Fawaz", "fcn_tsc"), ("ResNet Fawaz", "resnet_tsc"))


def ours(model: str, dataset: str, suffix: str = "") -> tuple[float, int, float] | None:
    """(mean accuracy, seeds, wall time per seed) of a record, or None."""
    path = RESULTS / f"ucr-{model}-{dataset}{suffix}.json"
    if not path.is_file():
        return None
    rec = json.loads(path.read_text())
    return float(rec["value"]), len(rec["seeds"]), float(rec["wall_time_s"])


def table(datasets: list[str]) -> str:
    ref = reference()
    titles = [t for t, _, _ in OURS] + [t for t, _ in PUBLISHED] + [t for t, _, _ in BASELINES]
    lines = ["| dataset | " + " | ".join(titles) + " |", "|---" * (len(titles) + 1) + "|"]
    grid: list[list[float | None]] = []
    for d in datasets:
        got = [ours(m, d, s) for _, m, s in OURS]
        pub = [ref.get(d, {}).get(m) for _, m in PUBLISHED]
        base = [ours(m, d, s) for _, m, s in BASELINES]
        row = (
            [g[0] if g else None for g in got]
            + [p[0] if p else None for p in pub]
            + [b[0] if b else None for b in base]
        )
        grid.append(row)
        cells = [f"{g[0]:.3f} ({g[1]})" if g else "–" for g in got]
        cells += [f"{p[0]:.3f}" + (" *" if d == "Fungi" else "") if p else "–" for p in pub]
        cells += [f"{b[0]:.3f}" if b else "–" for b in base]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    full = [r for r in grid if all(v is not None for v in r)]
    mean = [statistics.fmean(r[i] for r in full) if full else None for i in range(len(titles))]
    ranks = np.mean([rankdata([-v for v in r]) for r in full], axis=0) if full else [None] * len(titles)
    lines.append(f"| mean accuracy ({len(full)} sets with every column) | " + " | ".join(_f(v) for v in mean) + " |")
    lines.append(f"| mean rank ({len(full)} sets) | " + " | ".join(_f(v, 2) for v in ranks) + " |")
    whole = [statistics.fmean(col) if None not in (col := [r[i] for r in grid]) else None for i in range(len(titles))]
    lines.append(f"| mean accuracy, all {len(grid)} sets (complete columns) | " + " | ".join(map(_f, whole)) + " |")
    notes = []
    for i, (title, _, _) in enumerate(OURS):
        j = len(OURS) + i  # the published column of the same architecture
        pairs = [(r[i], r[j]) for r in grid if r[i] is not None and r[j] is not None]
        if not pairs:
            continue
        win = sum(round(a, 3) > round(b, 3) for a, b in pairs)
        tie = sum(round(a, 3) == round(b, 3) for a, b in pairs)
        diffs = [a - b for a, b in pairs if round(a, 3) != round(b, 3)]
        p = wilcoxon(diffs).pvalue if len(diffs) >= 6 else None
        notes.append(
            f"- {title} against {PUBLISHED[i][0]} on {len(pairs)} sets: {win} wins, {tie} ties, "
            f"{len(pairs) - win - tie} losses; mean difference {statistics.fmean(a - b for a, b in pairs):+.3f}; "
            + (
                f"Wilcoxon signed-rank p = {p:.3f} (ties dropped)"
                if p is not None
                else "too few untied sets for Wilcoxon"
            )
        )
    walls = [w for _, m, s in OURS for d in datasets if (w := ours(m, d, s))]
    if walls:
        notes.append(f"- Training time of our rows: {sum(w[2] * w[1] for w in walls) / 60:.0f} CPU-minutes in all.")
    notes.append("- `*` Fungi: the published file's figures are below chance (18 classes); kept as published.")
    return "\n".join([*lines, "", *notes])


def _f(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--print", action="store_true", help="print the section instead of writing the README")
    args = p.parse_args()
    datasets = sorted(reference())
    text = table(datasets)
    if args.print:
        print(text)
        return
    readme = README.read_text()
    if BEGIN not in readme:
        raise SystemExit(f"{README} has no {BEGIN} ... {END} section")
    head, rest = readme.split(BEGIN, 1)
    README.write_text(head + BEGIN + "\n" + text + "\n" + END + rest.split(END, 1)[1])
    print(f"wrote the UCR-29 table into {README}")


if __name__ == "__main__":
    main()
