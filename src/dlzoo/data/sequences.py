"""Sequence datasets: x (N, T, F) float32, one row per time step.

- ``adding``: the adding problem (Hochreiter & Schmidhuber 1997, experiment 4), generated.
- ``seq_mnist``: MNIST read row by row, 28 steps of 28 pixels (Le, Jaitly & Hinton 2015 use pixels).
- ``seq_digits``: scikit-learn's 8x8 digits row by row (8 steps of 8): bundled, for tiny presets.
- ``sunspots``: yearly sunspot numbers 1700-2008 (shipped with the package, or a CSV file): windows
  of past values -> the next value, split chronologically.
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

import numpy as np
import torch

from dlzoo.data.base import DataError, DataInfo, Split, TensorData, register_dataset
from dlzoo.data.images import mnist
from dlzoo.data.tabular import SKLEARN_VERSION, split_arrays


def adding_batch(steps: int, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n adding-problem sequences of length ``steps``: x (n, steps, 2), y (n,).

    Channel 0 holds values u_t ~ U(0, 1); channel 1 marks two steps, one drawn uniformly in the first
    half and one in the second half; the target is the sum of the two marked values (the variant of
    Le et al. 2015 and Arjovsky et al. 2016; predicting the mean 1 scores MSE 1/6 ~ 0.167).
    """
    values = torch.rand(n, steps, generator=generator)  # (n, T)
    half = steps // 2
    first = torch.randint(0, half, (n,), generator=generator)  # (n,)
    second = torch.randint(half, steps, (n,), generator=generator)  # (n,)
    markers = torch.zeros(n, steps)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]  # (n,)
    return torch.stack([values, markers], dim=-1), y  # (n, T, 2), (n,)


@register_dataset("adding", modality="sequences")
def adding(
    *, steps: int = 100, n_train: int = 10000, n_val: int = 1000, n_test: int = 1000, seed: int = 0
) -> TensorData:
    """The adding problem as fixed splits drawn from one generator seeded with ``seed``.

    Shapes: x (N, steps, 2) float32 (value, marker); y (N,) float32 in [0, 2].
    """
    if steps < 2:
        raise DataError(f"adding: steps must be >= 2 (one marker in each half), got {steps}")
    if min(n_train, n_test) < 1 or n_val < 0:
        raise DataError(f"adding: n_train and n_test must be >= 1 and n_val >= 0, got {n_train}, {n_test}, {n_val}")
    g = torch.Generator().manual_seed(seed)
    parts = {"train": adding_batch(steps, n_train, g), "test": adding_batch(steps, n_test, g)}
    if n_val:
        parts["val"] = adding_batch(steps, n_val, g)
    splits = {k: Split(x=x, y=y) for k, (x, y) in parts.items()}
    info = DataInfo(
        name="adding",
        version=f"generated/steps={steps},seed={seed}",
        task="regress",
        input_shape=(steps, 2),
        num_classes=None,
        class_names=None,
        splits={k: len(s) for k, s in splits.items()},
        split_note=f"independent draws from one generator (seed {seed}): train, then test, then val",
    )
    return TensorData(train=splits["train"], val=splits.get("val"), test=splits["test"], info=info)


@register_dataset("seq_mnist", modality="sequences")
def seq_mnist(*, val_size: int = 0, limit: int | None = None, root: str | None = None) -> TensorData:
    """MNIST as sequences of 28 rows of 28 pixels in [0, 1], through the ``mnist`` loader (same files/splits).

    Shapes: x (N, 28, 28) float32 (step = image row); y (N,) int64 in 0..9.
    """
    data = mnist(val_size=val_size, limit=limit, root=root)
    rows = {
        k: Split(x=s.x.reshape(-1, 28, 28), y=s.y)
        for k, s in (("train", data.train), ("val", data.val), ("test", data.test))
        if s is not None
    }
    i = data.info
    info = DataInfo(
        name="seq_mnist",
        version=i.version + "/rows",
        task="classify",
        input_shape=(28, 28),
        num_classes=10,
        class_names=i.class_names,
        splits=i.splits,
        split_note=i.split_note + "; each image read top to bottom, one row per step",
    )
    return TensorData(train=rows["train"], val=rows.get("val"), test=rows["test"], info=info)


@register_dataset("seq_digits", modality="sequences")
def seq_digits(*, split_seed: int = 0, test_size: float = 0.2, val_size: float = 0.0) -> TensorData:
    """scikit-learn's 8x8 digits read row by row (bundled, no download): a seconds-long sequence task.

    Shapes: x (N, 8, 8) float32 in [0, 1]; y (N,) int64 in 0..9.
    """
    import sklearn.datasets

    bunch = sklearn.datasets.load_digits()
    x = (bunch.data / 16.0).astype(np.float32).reshape(-1, 8, 8)  # (1797, 8, 8)
    parts, note = split_arrays(
        x, bunch.target.astype(np.int64), stratify=True, split_seed=split_seed, test_size=test_size, val_size=val_size
    )
    splits = {k: Split(x=torch.from_numpy(a), y=torch.from_numpy(b)) for k, (a, b) in parts.items()}
    info = DataInfo(
        name="seq_digits",
        version=SKLEARN_VERSION + "/rows",
        task="classify",
        input_shape=(8, 8),
        num_classes=10,
        class_names=tuple(str(d) for d in range(10)),
        splits={k: len(s) for k, s in splits.items()},
        split_note=note + "; one image row per step",
    )
    return TensorData(train=splits["train"], val=splits.get("val"), test=splits["test"], info=info)


def read_series_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A two-column CSV ``time,value`` with a header line -> (times, values), checked line by line."""
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected a CSV with a header and rows 'time,value')")
    times, values = [], []
    with open(path, newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if header is None:
            raise DataError(f"{path}: empty file (expected a header line and rows 'time,value')")
        for line, row in enumerate(rows, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 2:
                raise DataError(f"{path}:{line}: expected 2 fields 'time,value', got {len(row)}: {row!r}")
            try:
                t, v = float(row[0]), float(row[1])
            except ValueError:
                raise DataError(f"{path}:{line}: expected two numbers 'time,value', got {row!r}") from None
            if not (math.isfinite(t) and math.isfinite(v)):
                raise DataError(f"{path}:{line}: time and value must be finite, got {row!r}")
            if times and t <= times[-1]:
                raise DataError(f"{path}:{line}: times must increase, got {t:g} after {times[-1]:g}")
            times.append(t)
            values.append(v)
    return np.asarray(times), np.asarray(values, dtype=np.float64)


#: yearly mean sunspot numbers 1700-2008, shipped with the package (309 rows, 4 KB): the series
#: statsmodels bundles (``statsmodels.datasets.sunspots``, from SIDC/SILSO), copied so that no extra
#: dependency is needed; its sha256 is checked on load
SUNSPOTS_CSV = Path(__file__).with_name("sunspots.csv")
SUNSPOTS_SHA256 = "79fb69a2d0daf507a9b876f2eafa3f88a3817cff73bf111350b265f7f9ee9314"


def sunspot_series() -> tuple[np.ndarray, np.ndarray, str]:
    """Yearly mean sunspot numbers 1700-2008 from the copy shipped in the package: (years, values, version)."""
    digest = hashlib.sha256(SUNSPOTS_CSV.read_bytes()).hexdigest()
    if digest != SUNSPOTS_SHA256:
        raise DataError(f"{SUNSPOTS_CSV}: sha256 {digest[:16]}..., expected {SUNSPOTS_SHA256[:16]}... (damaged)")
    years, values = read_series_csv(SUNSPOTS_CSV)
    return years, values, f"sunspots-1700-2008-sha256:{SUNSPOTS_SHA256[:12]}"


@register_dataset("sunspots", modality="sequences")
def sunspots(*, window: int = 24, val_size: int = 30, test_size: int = 50, path: str | None = None) -> TensorData:
    """One-step-ahead forecasting: the past ``window`` values -> the next value.

    The series is split chronologically by the year of the *target*: the last ``test_size`` values
    are test, the ``val_size`` before them val, the rest train (inputs may reach back into earlier
    splits, as a forecaster would see them). Default: 1700-2008, test = 1959-2008, val = 1929-1958.

    Args:
        window: past values per input (>= 1).
        path: a CSV file ``time,value`` (with a header) instead of the shipped sunspots series.

    Shapes: x (N, window, 1) float32; y (N,) float32 (same units as the series).
    """
    if path is None:
        times, series, version = sunspot_series()
        name = "sunspots"
    else:
        times, series = read_series_csv(Path(path))
        version, name = f"csv:{Path(path).name}", "sunspots"
    if window < 1 or test_size < 1 or val_size < 0:
        raise DataError(
            f"sunspots: window and test_size must be >= 1, val_size >= 0; got {window}, {test_size}, {val_size}"
        )
    n_targets = len(series) - window
    n_train = n_targets - val_size - test_size
    if n_train < 1:
        raise DataError(
            f"sunspots: series of {len(series)} values is too short for window {window} + val {val_size} "
            f"+ test {test_size} (needs at least {window + val_size + test_size + 1})"
        )
    idx = np.arange(window)[None] + np.arange(n_targets)[:, None]  # (N, window): positions of each input
    x = series[idx].astype(np.float32)[..., None]  # (N, window, 1)
    y = series[window:].astype(np.float32)  # (N,)
    cuts = {"train": (0, n_train), "val": (n_train, n_train + val_size), "test": (n_train + val_size, n_targets)}
    splits = {
        k: Split(x=torch.from_numpy(x[a:b].copy()), y=torch.from_numpy(y[a:b].copy()))
        for k, (a, b) in cuts.items()
        if b > a
    }
    t = times[window:]
    note = (
        f"chronological by target time: train {t[0]:g}-{t[n_train - 1]:g}"
        + (f", val {t[n_train]:g}-{t[n_train + val_size - 1]:g}" if val_size else "")
        + f", test {t[n_train + val_size]:g}-{t[-1]:g}; inputs = previous {window} values"
    )
    info = DataInfo(
        name=name,
        version=version,
        task="regress",
        input_shape=(window, 1),
        num_classes=None,
        class_names=None,
        splits={k: len(s) for k, s in splits.items()},
        split_note=note,
    )
    return TensorData(train=splits["train"], val=splits.get("val"), test=splits["test"], info=info)
