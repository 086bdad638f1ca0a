"""Time series for classification: the UCR/UEA archive (TSV and ``.ts``) and Cylinder-Bell-Funnel.

UCR/UEA archive (Dau et al. 2019, "The UCR time series archive", IEEE/CAA J. Autom. Sinica; Bagnall
et al. 2018, "The UEA multivariate time series classification archive"), two file layouts:

* 2018 TSV: ``<root>/<Name>/<Name>_TRAIN.tsv`` and ``_TEST.tsv``; one series per line, the class
  label first, then the values, tab-separated, no header. Unequal-length series are padded with
  ``NaN`` at the end; missing values inside a series are ``NaN``.
* sktime/aeon ``.ts``: ``<root>/<Name>/<Name>_TRAIN.ts`` and ``_TEST.ts``; ``@`` header lines
  (``@problemName``, ``@univariate``, ``@equalLength``, ``@classLabel true <labels>``...) then ``@data``;
  one case per line, dimensions separated by ``:``, values by ``,``, the class label last, ``?`` missing.

The archive's conventions, applied here:

* labels are strings (``-1``, ``1``, ``1.0``, ``a``...): the classes are the distinct labels of train
  and test, sorted numerically when they all parse as numbers, else as text; index i <-> class_names[i].
* z-normalisation per series and per channel, ``(x - mean) / std`` over the observed values, as the
  archive's older datasets ship and as Fawaz et al. (2019) do for all; a constant series becomes 0.
* missing values / unequal lengths: ``missing="error"`` (default) rejects them with the file and line;
  ``missing="fill"`` does what the archive's "adjusted" copies do: interior gaps are filled by linear
  interpolation, and shorter series are padded at the end to the longest length (with 0, the mean of
  a z-normalised series).

Files: ``root`` or ``$DLZOO_DATA/UCRArchive_2018`` (``~/.cache/dlzoo/UCRArchive_2018``). A dataset
that is missing is downloaded as ``<Name>.zip`` from timeseriesclassification.com (its ``.ts`` files)
unless ``DLZOO_OFFLINE=1``; the archive publishes no checksums, so the sha256 of the files actually
read is recorded in the dataset version instead.

Cylinder-Bell-Funnel (Saito 1994, "Local feature extraction and its applications using a library of
bases", PhD thesis, Yale; the UCR "CBF" set) is generated, so it needs no files at all.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import torch

from dlzoo.data.base import DataError, DataInfo, Split, TensorData, register_dataset
from dlzoo.data.download import TIMEOUT_S, data_root, is_offline

UCR_FOLDER = "UCRArchive_2018"
#: per-dataset zip of .ts files; ``{name}`` is the dataset name (tests point it at a file:// URL)
UCR_URL = "https://www.timeseriesclassification.com/aeon-toolkit/{name}.zip"
FORMATS = ("auto", "tsv", "ts")
MISSING = ("error", "fill")


# ----------------------------------------------------------------------------------------------
# file readers: (list of (C, L_i) float arrays with NaN for missing, list of label strings)

Cases = tuple[list[np.ndarray], list[str]]


def read_ucr_tsv(path: Path | str) -> Cases:
    """One univariate series per line: ``label<TAB>v1<TAB>v2...`` (NaN allowed; trailing NaN = shorter).

    Raises:
        DataError: ``<file>:<line>: ...`` for an empty line, a line without values, or a value that
            is not a number.
    """
    path = Path(path)
    series, labels = [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue  # blank lines (a trailing newline) carry no case
            fields = line.split("\t") if "\t" in line else line.split(",")
            if len(fields) < 2:
                raise DataError(
                    f"{path}:{lineno}: expected a label and at least one value separated by tabs, got {line[:60]!r}"
                )
            values = _parse_values(fields[1:], path, lineno, first_field=2)
            n = len(values)
            while n > 0 and math.isnan(values[n - 1]):  # trailing NaN pads a shorter series
                n -= 1
            if n == 0:
                raise DataError(f"{path}:{lineno}: series has no values (all NaN)")
            series.append(np.asarray(values[:n], dtype=np.float64)[None, :])  # (1, L_i)
            labels.append(_label(fields[0], path, lineno))
    if not series:
        raise DataError(f"{path}: no series found (empty file?); expected lines 'label<TAB>v1<TAB>v2...'")
    return series, labels


def read_ts(path: Path | str) -> Cases:
    """The sktime/aeon ``.ts`` format (``@`` header, ``@data``, ``dim1:dim2:...:label`` per case).

    Raises:
        DataError: ``<file>:<line>: ...`` for a missing ``@data``, timestamps (not supported), a
            case without a class label, cases with different numbers of dimensions, a bad number.
    """
    path = Path(path)
    series, labels = [], []
    in_data, has_labels, declared = False, True, None
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                key, _, rest = line.partition(" ")
                key = key.lower()
                if key == "@data":
                    in_data = True
                elif key == "@timestamps" and rest.strip().lower() == "true":
                    raise DataError(
                        f"{path}:{lineno}: '@timestamps true' is not supported; "
                        "expected series of plain comma-separated values"
                    )
                elif key == "@classlabel":
                    parts = rest.split()
                    has_labels = bool(parts) and parts[0].lower() == "true"
                    declared = set(parts[1:]) if has_labels else None
                elif not key.startswith("@"):
                    raise DataError(
                        f"{path}:{lineno}: expected an '@' header line or '@data' before the series, got {line[:60]!r}"
                    )
                continue
            if not has_labels:
                raise DataError(
                    f"{path}:{lineno}: the file declares no class labels (@classLabel false); "
                    "classification needs one label per case"
                )
            *dims, label = line.split(":")
            if not dims:
                raise DataError(
                    f"{path}:{lineno}: expected 'v1,v2,...:label' (values, a colon, the class label), got {line[:60]!r}"
                )
            label = _label(label, path, lineno)
            if declared is not None and label not in declared:
                raise DataError(
                    f"{path}:{lineno}: class label {label!r} is not among those declared by "
                    f"@classLabel: {sorted(declared)}"
                )
            channels = [_parse_values(d.split(","), path, lineno, first_field=1) for d in dims]
            if series and len(channels) != series[0].shape[0]:
                raise DataError(
                    f"{path}:{lineno}: case has {len(channels)} dimensions, earlier cases have {series[0].shape[0]}"
                )
            length = max(len(c) for c in channels)
            if any(len(c) != length for c in channels):
                raise DataError(
                    f"{path}:{lineno}: the dimensions of one case have different lengths {[len(c) for c in channels]}"
                )
            series.append(np.asarray(channels, dtype=np.float64))  # (C, L_i)
            labels.append(label)
    if not in_data:
        raise DataError(f"{path}: no '@data' line; expected a .ts file (header lines, '@data', then cases)")
    if not series:
        raise DataError(f"{path}: no cases after '@data'")
    return series, labels


def _parse_values(fields: list[str], path: Path, lineno: int, *, first_field: int) -> list[float]:
    values = []
    for i, text in enumerate(fields):
        text = text.strip()
        if text in ("?", "", "NaN", "nan", "NAN"):
            values.append(math.nan)
            continue
        try:
            values.append(float(text))
        except ValueError:
            raise DataError(
                f"{path}:{lineno}: field {first_field + i}: {text[:30]!r} is not a number (expected a float, NaN or ?)"
            ) from None
    return values


def _label(text: str, path: Path, lineno: int) -> str:
    label = text.strip()
    if not label:
        raise DataError(f"{path}:{lineno}: empty class label")
    try:  # "1", "1.0" and "1e0" are the same class in the archive's files
        value = float(label)
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        return str(value) if math.isfinite(value) else label
    except ValueError:
        return label


# ----------------------------------------------------------------------------------------------
# archive conventions: label mapping, z-normalisation, missing values


def label_mapping(*label_lists: list[str]) -> tuple[str, ...]:
    """Sorted distinct labels: numerically when all are numbers, else as text."""
    distinct = set().union(*label_lists)
    try:
        return tuple(sorted(distinct, key=float))
    except ValueError:
        return tuple(sorted(distinct))


def znormalize(series: np.ndarray) -> np.ndarray:
    """(C, L) -> (C, L): per channel (x - mean) / std over the observed (non-NaN) values; constant -> 0."""
    mean = np.nanmean(series, axis=1, keepdims=True)  # (C, 1)
    std = np.nanstd(series, axis=1, keepdims=True)  # (C, 1), population std like the archive
    return (series - mean) / np.where(std > 1e-8, std, 1.0)


def interpolate_gaps(series: np.ndarray) -> np.ndarray:
    """(C, L) -> (C, L): interior NaNs by linear interpolation, leading ones by the first observed value."""
    out = series.copy()
    t = np.arange(series.shape[1])
    for c in range(series.shape[0]):
        seen = ~np.isnan(series[c])
        if not seen.any():
            out[c] = 0.0
        elif not seen.all():
            out[c] = np.interp(t, t[seen], series[c, seen])
    return out


def to_array(series: list[np.ndarray], *, length: int, missing: str, source: Path) -> np.ndarray:
    """Cases of shape (C, L_i) -> (N, C, length), checked against the ``missing`` policy."""
    out = np.zeros((len(series), series[0].shape[0], length), dtype=np.float32)
    for i, s in enumerate(series):
        if missing == "error":
            if s.shape[1] != length:
                raise DataError(
                    f"{source}: case {i + 1} has length {s.shape[1]}, others {length}: the series have "
                    "unequal lengths; pass missing=fill to pad them at the end (archive convention)"
                )
            if np.isnan(s).any():
                raise DataError(
                    f"{source}: case {i + 1} has missing values (NaN); pass missing=fill to fill them "
                    "by linear interpolation (archive convention)"
                )
        s = interpolate_gaps(s)
        out[i, :, : s.shape[1]] = s[:, :length]  # shorter series stay zero-padded at the end
    return out


# ----------------------------------------------------------------------------------------------
# the registered datasets


def ucr_files(name: str, root: Path, fmt: str) -> tuple[Path, Path]:
    """(train, test) paths of dataset ``name`` under ``root``, for format "tsv", "ts" or "auto"."""
    folder = root / name
    for ext in ("tsv", "ts") if fmt == "auto" else (fmt,):
        train, test = folder / f"{name}_TRAIN.{ext}", folder / f"{name}_TEST.{ext}"
        if train.is_file() and test.is_file():
            return train, test
    raise FileNotFoundError(folder)


def download_ucr(name: str, root: Path) -> None:
    """Fetch ``UCR_URL`` for ``name`` and extract its ``<name>_TRAIN.ts`` / ``_TEST.ts`` into ``root/name``."""
    url = UCR_URL.format(name=name)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            blob = response.read()
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except (OSError, zipfile.BadZipFile) as e:
        raise DataError(
            f"UCR dataset {name!r}: download of {url} failed ({e}); put {name}_TRAIN.tsv and "
            f"{name}_TEST.tsv under {root / name} or set DLZOO_DATA"
        ) from None
    wanted = {f"{name}_TRAIN.ts", f"{name}_TEST.ts"}
    members = {Path(m).name: m for m in archive.namelist() if Path(m).name in wanted}
    if set(members) != wanted:
        raise DataError(f"UCR dataset {name!r}: {url} holds no {sorted(wanted)}")
    (root / name).mkdir(parents=True, exist_ok=True)
    for filename, member in members.items():
        tmp = root / name / f".{filename}.part"
        tmp.write_bytes(archive.read(member))
        os.replace(tmp, root / name / filename)


def _read(path: Path) -> Cases:
    return read_ucr_tsv(path) if path.suffix == ".tsv" else read_ts(path)


@register_dataset("ucr", modality="timeseries")
def ucr(
    *,
    dataset: str = "GunPoint",
    root: str | None = None,
    format: str = "auto",
    znorm: bool = True,
    missing: str = "error",
    download: bool = True,
) -> TensorData:
    """A UCR/UEA archive dataset by name, with the archive's published train/test split (no val).

    Args:
        dataset: dataset folder name, e.g. GunPoint, ItalyPowerDemand, ECG200, Coffee (any archive name).
        root: folder holding ``<name>/``; default ``$DLZOO_DATA/UCRArchive_2018``.
        format: "tsv" (2018 archive), "ts" (sktime/aeon), or "auto" (tsv if present, else ts).
        znorm: z-normalise every series per channel (archive convention).
        missing: "error" rejects NaN / unequal lengths; "fill" interpolates gaps and pads at the end.
        download: fetch ``<name>.zip`` (.ts files) when the files are missing (never when DLZOO_OFFLINE=1).

    Shapes:
        x: (N, C, L) float32, C = 1 for the univariate archive; y: (N,) int64 in 0..K-1
    """
    name = dataset  # ("name" is the registry key of the data: section, so the parameter is "dataset")
    if format not in FORMATS:
        raise DataError(f"unknown format {format!r}; valid formats: {list(FORMATS)}")
    if missing not in MISSING:
        raise DataError(f"unknown missing-value policy {missing!r}; valid: {list(MISSING)}")
    if not name or "/" in name or name.startswith("."):
        raise DataError(f"bad UCR dataset name {name!r}; expected a folder name such as 'GunPoint'")
    base = Path(root).expanduser() if root else data_root() / UCR_FOLDER
    try:
        train_path, test_path = ucr_files(name, base, format)
    except FileNotFoundError:
        if not download or is_offline():
            raise DataError(
                f"UCR dataset {name!r} not found: expected {base / name}/{name}_TRAIN.tsv and _TEST.tsv "
                f"(or .ts); offline or download=false, so nothing was downloaded"
            ) from None
        download_ucr(name, base)
        train_path, test_path = ucr_files(name, base, "ts")

    (s_tr, l_tr), (s_te, l_te) = _read(train_path), _read(test_path)
    if s_tr[0].shape[0] != s_te[0].shape[0]:
        raise DataError(f"{test_path}: {s_te[0].shape[0]} dimensions, but {train_path} has {s_tr[0].shape[0]}")
    if znorm:
        s_tr, s_te = [znormalize(s) for s in s_tr], [znormalize(s) for s in s_te]
    length = max(s.shape[1] for s in s_tr + s_te)
    x_tr = to_array(s_tr, length=length, missing=missing, source=train_path)  # (N_train, C, L)
    x_te = to_array(s_te, length=length, missing=missing, source=test_path)  # (N_test, C, L)
    classes = label_mapping(l_tr, l_te)
    index = {c: i for i, c in enumerate(classes)}
    digest = hashlib.sha256(train_path.read_bytes() + test_path.read_bytes()).hexdigest()[:16]
    fmt = train_path.suffix[1:]
    info = DataInfo(
        name="ucr",
        version=f"ucr-{fmt}/{name}/sha256:{digest}",
        task="classify",
        input_shape=tuple(x_tr.shape[1:]),
        num_classes=len(classes),
        class_names=classes,
        splits={"train": len(x_tr), "test": len(x_te)},
        split_note=f"{name}: the archive's published train/test split; no val"
        + ("; z-normalised per series" if znorm else ""),
    )
    return TensorData(
        train=Split(torch.from_numpy(x_tr), torch.tensor([index[c] for c in l_tr], dtype=torch.int64)),
        val=None,
        test=Split(torch.from_numpy(x_te), torch.tensor([index[c] for c in l_te], dtype=torch.int64)),
        info=info,
    )


CBF_CLASSES = ("cylinder", "bell", "funnel")


def cbf_series(n: int, *, length: int, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n Cylinder-Bell-Funnel series, classes balanced in turn (Saito 1994, as in the UCR CBF set).

        a ~ U[16, 32], b - a ~ U[32, 96], eta ~ N(0, 1), eps(t) ~ N(0, 1), chi = 1 on [a, b]
        cylinder c(t) = (6 + eta) chi(t)                   + eps(t)
        bell     b(t) = (6 + eta) chi(t) (t - a) / (b - a) + eps(t)
        funnel   f(t) = (6 + eta) chi(t) (b - t) / (b - a) + eps(t)

    Times t = 1..length (128 in the original); a and b scale with length / 128.
    Returns x (n, length) and y (n,) in 0..2.
    """
    scale = length / 128
    y = np.arange(n) % 3
    t = np.arange(1, length + 1)[None, :]  # (1, L)
    a = generator.uniform(16, 32, size=(n, 1)) * scale  # (n, 1)
    b = a + generator.uniform(32, 96, size=(n, 1)) * scale  # (n, 1)
    amp = 6 + generator.standard_normal((n, 1))  # (n, 1)
    chi = ((t >= a) & (t <= b)).astype(np.float64)  # (n, L)
    shape = np.where(y[:, None] == 0, 1.0, np.where(y[:, None] == 1, (t - a) / (b - a), (b - t) / (b - a)))
    x = amp * chi * shape + generator.standard_normal((n, length))  # (n, L)
    return x, y


@register_dataset("cbf", modality="timeseries")
def cbf(*, n_train: int = 30, n_test: int = 900, length: int = 128, seed: int = 0, znorm: bool = True) -> TensorData:
    """Cylinder-Bell-Funnel (Saito 1994), generated; the archive's own CBF is ``--data ucr data.dataset=CBF``.

    The UCR CBF sizes (30 train / 900 test, length 128), drawn afresh from ``seed``: not the archive's series.

    Shapes:
        x: (N, 1, length) float32; y: (N,) int64 in 0..2 (cylinder, bell, funnel)
    """
    if n_train < 3 or n_test < 3 or length < 16:
        raise DataError(f"cbf needs n_train >= 3, n_test >= 3, length >= 16; got {n_train}, {n_test}, {length}")
    rng = np.random.default_rng(seed)
    parts = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x, y = cbf_series(n, length=length, generator=rng)
        if znorm:
            x = np.stack([znormalize(s[None, :])[0] for s in x])
        parts[split] = Split(torch.from_numpy(x.astype(np.float32)[:, None, :]), torch.from_numpy(y.astype(np.int64)))
    info = DataInfo(
        name="cbf",
        version=f"cbf-saito1994/seed={seed}",
        task="classify",
        input_shape=(1, length),
        num_classes=3,
        class_names=CBF_CLASSES,
        splits={k: len(s) for k, s in parts.items()},
        split_note=f"generated, seed={seed}: train first, then test"
        + ("; z-normalised per series" if znorm else "")
        + " (not the archive's CBF: that is --data ucr data.dataset=CBF)",
    )
    return TensorData(train=parts["train"], val=None, test=parts["test"], info=info)
