"""The UCR-29 set and its published accuracies, shared by ucr.py, ucr_nn.py and ucr_summary.py.

``ucr_reference.csv``: Fawaz et al.'s FCN and ResNet test accuracy on each set, the mean and sd of the 5
iterations in their repository's ``results/results-ucr-128.csv`` (github.com/hfawaz/dl-4-tsc, commit
e0233ef: the UCR 2018 archive, 128 sets; their DMKD 2019 review's tables are the 85-set 2015 archive,
which lacks Chinatown, Fungi and SmoothSubspace). Their Fungi figures (FCN 0.018, ResNet 0.177) are what
the file says, far below chance (1/18): kept as published, marked in the summary.
"""

from __future__ import annotations

import csv
from pathlib import Path

from dlzoo.data.download import data_root
from dlzoo.data.timeseries import UCR_FOLDER

HERE = Path(__file__).resolve().parent
REFERENCE_FILE = HERE / "ucr_reference.csv"
REFERENCE_SOURCE = (
    "Fawaz et al. 2019 (DMKD); their repository's results-ucr-128.csv (hfawaz/dl-4-tsc e0233ef), mean of 5 GPU runs"
)


def reference() -> dict[str, dict[str, tuple[float, float]]]:
    """dataset -> model -> (mean, sd) of the published accuracy."""
    with REFERENCE_FILE.open() as f:
        rows = list(csv.DictReader(f))
    return {r["dataset"]: {m: (float(r[m]), float(r[f"{m}_sd"])) for m in ("fcn_tsc", "resnet_tsc")} for r in rows}


def archive_datasets() -> list[str]:
    """The UCR sets under DLZOO_DATA (the 29 of the shared data folder), sorted by name."""
    root = data_root() / UCR_FOLDER
    found = sorted(p.name for p in root.iterdir() if (p / f"{p.name}_TRAIN.tsv").is_file()) if root.is_dir() else []
    if not found:
        raise SystemExit(f"no UCR dataset under {root}: set DLZOO_DATA to the folder that holds {UCR_FOLDER}/")
    return found
