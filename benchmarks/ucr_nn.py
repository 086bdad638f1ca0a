"""UCR archive: the classic non-deep baselines, 1-NN with Euclidean distance and 1-NN with DTW.

    DLZOO_DATA=../shared/data python benchmarks/ucr_nn.py                 # the 29 sets under DLZOO_DATA
    DLZOO_DATA=../shared/data python benchmarks/ucr_nn.py --datasets Coffee GunPoint --no-record

The same z-normalised series, split and labels as the deep models (``dlzoo.data.timeseries.ucr``).
DTW is dtaidistance's C implementation (the ``bench`` extra), full warping window (no Sakoe-Chiba band)
and no lower-bound pruning: "DTW (w=100)" in the archive's own table. Each prediction is the label of the
training series nearest to the test series, ties to the first. Deterministic: no seeds. One record per
method and dataset (``ucr-nn_dtw-<dataset>``, ``ucr-nn_euclidean-<dataset>``), with its wall time
(distance matrix and argmin) on one thread; ``ucr_summary.py`` puts them in the UCR-29 table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record
from _ucr import archive_datasets

from dlzoo.data.timeseries import ucr


def euclidean(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """(N_test, N_train) squared Euclidean distances between flattened series."""
    return (test**2).sum(1)[:, None] - 2 * test @ train.T + (train**2).sum(1)[None, :]


def dtw(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """(N_test, N_train) DTW distances, full window, by dtaidistance's C code (one thread)."""
    from dtaidistance import dtw as dtai  # the bench extra

    series = [np.ascontiguousarray(s, dtype=np.double) for s in (*test, *train)]
    n_test = len(test)
    block = {"x": (0, n_test), "y": (n_test, len(series))}  # only the test x train block
    full = dtai.distance_matrix_fast(series, block=(block["x"], block["y"]), compact=False, parallel=False)
    return np.asarray(full)[:n_test, n_test:]


METHODS = {"nn_euclidean": euclidean, "nn_dtw": dtw}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=None, help="default: every UCR set under DLZOO_DATA")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    for dataset in args.datasets or archive_datasets():
        data = ucr(dataset=dataset, download=False)
        train = data.train.x.flatten(1).double().numpy()
        test = data.test.x.flatten(1).double().numpy()
        y_train, y_test = data.train.y.numpy(), data.test.y.numpy()
        for method in args.methods:
            t0 = time.perf_counter()
            pred = y_train[METHODS[method](train, test).argmin(1)]
            wall = time.perf_counter() - t0
            acc = float((pred == y_test).mean())
            print(f"{method} {dataset}: test/accuracy {acc:.4f}  {wall:.1f} s", flush=True)
            if not args.no_record:
                record(
                    "ucr",
                    key=f"{method}-{dataset}",
                    model=method,
                    family="cnn",
                    dataset=f"ucr/{dataset}",
                    dataset_version=data.info.version,
                    split="test: the archive's published test split; no val",
                    metric="test/accuracy",
                    values=[acc],
                    seeds=[0],
                    wall_time_s=wall,
                    config={"method": method, "window": "full" if method == "nn_dtw" else None},
                    notes="a deterministic non-deep baseline (no training, no seed): 1-NN on the z-normalised "
                    "series; wall_time_s = distances + argmin on one thread.",
                )


if __name__ == "__main__":
    main()
