"""Small tabular datasets bundled with scikit-learn (offline, no download).

The test split is exactly ``train_test_split(x, y, test_size=test_size, stratify=y,
random_state=split_seed)`` (no ``stratify`` for regression), so results compare with scikit-learn
baselines run on the same split. Features are raw float32, not standardized: models fit their own
standardization on the training split.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sklearn
import sklearn.datasets
import torch
from sklearn.model_selection import train_test_split

from dlzoo.data.base import DataError, DataInfo, Split, TensorData, register_dataset

SKLEARN_VERSION = f"sklearn-{sklearn.__version__}"


def split_arrays(
    x: np.ndarray, y: np.ndarray, *, stratify: bool, split_seed: int, test_size: float, val_size: float
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str]:
    """Split (x, y) into train / val / test with scikit-learn's ``train_test_split``.

    Args:
        stratify: keep class proportions (classification).
        test_size: fraction of all samples in test, in (0, 1).
        val_size: fraction of the training part held out for validation, in [0, 1); 0 -> no val.

    Returns:
        ({"train": (x, y), "test": (x, y)[, "val": (x, y)]}, a note describing the split)
    """
    if not 0.0 < test_size < 1.0:
        raise DataError(f"test_size must be in (0, 1), got {test_size}")
    if not 0.0 <= val_size < 1.0:
        raise DataError(f"val_size must be in [0, 1) (0 = no validation split), got {val_size}")
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_size, stratify=y if stratify else None, random_state=split_seed
    )
    kind = "stratified" if stratify else "random"
    note = f"{kind} train_test_split, test_size={test_size}, split_seed={split_seed}"
    parts = {"train": (x_tr, y_tr), "test": (x_te, y_te)}
    if val_size > 0:
        x_tr, x_va, y_tr, y_va = train_test_split(
            x_tr, y_tr, test_size=val_size, stratify=y_tr if stratify else None, random_state=split_seed
        )
        parts = {"train": (x_tr, y_tr), "val": (x_va, y_va), "test": (x_te, y_te)}
        note += f"; val = {kind} {val_size} of train, same seed"
    return parts, note


def _load_sklearn(
    name: str, load: Callable, *, task: str, split_seed: int, test_size: float, val_size: float
) -> TensorData:
    """Load a scikit-learn bundle (``load()``) and split it; task is "classify" or "regress"."""
    bunch = load()
    x = np.asarray(bunch.data, dtype=np.float32)  # (N, F)
    classify = task == "classify"
    if classify:
        y = np.asarray(bunch.target, dtype=np.int64)  # (N,)
        class_names = tuple(str(c) for c in bunch.target_names)
    else:
        y = np.asarray(bunch.target, dtype=np.float32)  # (N,) raw target
        class_names = None
    parts, note = split_arrays(x, y, stratify=classify, split_seed=split_seed, test_size=test_size, val_size=val_size)
    splits = {k: Split(x=torch.from_numpy(xs), y=torch.from_numpy(ys)) for k, (xs, ys) in parts.items()}
    info = DataInfo(
        name=name,
        version=SKLEARN_VERSION,
        task=task,
        input_shape=(x.shape[1],),
        num_classes=len(class_names) if class_names else None,
        class_names=class_names,
        splits={k: len(s) for k, s in splits.items()},
        split_note=note,
    )
    return TensorData(train=splits["train"], val=splits.get("val"), test=splits["test"], info=info)


@register_dataset("digits", modality="tabular")
def digits(*, split_seed: int = 0, test_size: float = 0.2, val_size: float = 0.0) -> TensorData:
    """8x8 handwritten digits as 64 pixel counts in 0..16; 1797 samples, 10 classes. x: (N, 64)."""
    return _load_sklearn(
        "digits",
        sklearn.datasets.load_digits,
        task="classify",
        split_seed=split_seed,
        test_size=test_size,
        val_size=val_size,
    )


@register_dataset("iris", modality="tabular")
def iris(*, split_seed: int = 0, test_size: float = 0.2, val_size: float = 0.0) -> TensorData:
    """Fisher's iris: 4 measurements (cm); 150 samples, 3 classes. x: (N, 4)."""
    return _load_sklearn(
        "iris",
        sklearn.datasets.load_iris,
        task="classify",
        split_seed=split_seed,
        test_size=test_size,
        val_size=val_size,
    )


@register_dataset("wine", modality="tabular")
def wine(*, split_seed: int = 0, test_size: float = 0.2, val_size: float = 0.0) -> TensorData:
    """Wine recognition: 13 chemical features; 178 samples, 3 cultivars. x: (N, 13)."""
    return _load_sklearn(
        "wine",
        sklearn.datasets.load_wine,
        task="classify",
        split_seed=split_seed,
        test_size=test_size,
        val_size=val_size,
    )


@register_dataset("breast_cancer", modality="tabular")
def breast_cancer(*, split_seed: int = 0, test_size: float = 0.2, val_size: float = 0.0) -> TensorData:
    """Wisconsin diagnostic breast cancer: 30 features; 569 samples, malignant/benign. x: (N, 30)."""
    return _load_sklearn(
        "breast_cancer",
        sklearn.datasets.load_breast_cancer,
        task="classify",
        split_seed=split_seed,
        test_size=test_size,
        val_size=val_size,
    )


@register_dataset("diabetes", modality="tabular")
def diabetes(*, split_seed: int = 0, test_size: float = 0.2, val_size: float = 0.0) -> TensorData:
    """Diabetes progression: 10 features (sklearn's mean-centered, scaled version), raw target
    (a disease progression score, 25..346); 442 samples, random (unstratified) split.
    x: (N, 10), y: (N,) float32."""
    return _load_sklearn(
        "diabetes",
        sklearn.datasets.load_diabetes,
        task="regress",
        split_seed=split_seed,
        test_size=test_size,
        val_size=val_size,
    )
