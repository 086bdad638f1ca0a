"""Dataset containers and the dataset registry.

A dataset is a loader function registered with ``@register_dataset(name, modality=...)``. Its
parameters are keyword-only, typed and defaulted, and it returns a :class:`TensorData`:

    @register_dataset("digits", modality="tabular")
    def digits(*, split_seed: int = 0, test_size: float = 0.2, val_size: float = 0.0) -> TensorData:
        ...

    data = load_dataset("digits", val_size=0.2)   # names, keys and types are checked first
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from pydantic import TypeAdapter, ValidationError

TASKS = ("classify", "regress", "density")


class DataError(ValueError):
    """Bad or missing data; the message says what was expected and where."""


@dataclass(frozen=True)
class DataInfo:
    """What a :class:`TensorData` holds and how it was made."""

    name: str  # registry name, e.g. "digits"
    version: str  # exact data used, e.g. "sklearn-1.9.1" or "mnist-idx-lecun"
    task: str  # "classify" | "regress" | "density" (no labels needed)
    input_shape: tuple[int, ...]  # per-sample shape, e.g. (64,), (1, 28, 28) or (2,)
    num_classes: int | None  # None for regression / density
    class_names: tuple[str, ...] | None  # index -> name, None when num_classes is None
    splits: dict[str, int]  # sizes, e.g. {"train": 1149, "val": 288, "test": 360}
    split_note: str  # how the split was made, e.g. "stratified 80/20, split_seed=0; val = 20% of train"
    input_range: tuple[float, float] | None = None  # (lo, hi) every input value lies in, e.g. (0.0, 1.0) for images


@dataclass
class Split:
    """One split of a dataset.

    Shapes:
        x: (N, *input_shape) float32
        y: (N,) int64 for classify; (N,) or (N, k) float32 for regress; (N,) int64 mode index or
           None for density
    """

    x: torch.Tensor
    y: torch.Tensor | None

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass
class TensorData:
    """Train / optional val / test splits plus their :class:`DataInfo`."""

    train: Split
    val: Split | None  # None when no validation split was asked for
    test: Split
    info: DataInfo


# ----------------------------------------------------------------------------------------------
# registry

Loader = Callable[..., TensorData]


@dataclass(frozen=True)
class _Entry:
    loader: Loader
    modality: str  # "tabular" | "images" | "toy2d" | ...
    params: dict[str, inspect.Parameter]  # keyword-only, annotated, defaulted
    adapters: dict[str, TypeAdapter]  # param name -> validator for its annotation


_REGISTRY: dict[str, _Entry] = {}


def register_dataset(name: str, *, modality: str) -> Callable[[Loader], Loader]:
    """Decorator that registers ``loader`` under ``name``.

    Every parameter of the loader must be keyword-only, with a type annotation and a default, so
    that ``dlzoo info`` can list them and :func:`load_dataset` can check them.
    """

    def decorator(loader: Loader) -> Loader:
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} is already registered")
        params = dict(inspect.signature(loader, eval_str=True).parameters)
        for p in params.values():
            ok = p.kind is p.KEYWORD_ONLY and p.annotation is not p.empty and p.default is not p.empty
            if not ok:
                raise TypeError(
                    f"dataset {name!r}: parameter {p.name!r} of {loader.__qualname__} must be "
                    "keyword-only with a type annotation and a default"
                )
        adapters = {k: TypeAdapter(p.annotation) for k, p in params.items()}
        _REGISTRY[name] = _Entry(loader=loader, modality=modality, params=params, adapters=adapters)
        return loader

    return decorator


def list_datasets(modality: str | None = None) -> list[str]:
    """Sorted dataset names, optionally only those of one modality ("tabular", "images", ...)."""
    if modality is not None:
        modalities = sorted({e.modality for e in _REGISTRY.values()})
        if modality not in modalities:
            raise DataError(f"unknown modality {modality!r}; valid modalities: {modalities}")
    return sorted(n for n, e in _REGISTRY.items() if modality in (None, e.modality))


def dataset_modality(name: str) -> str:
    """The modality a dataset was registered with."""
    return _entry(name).modality


def dataset_params(name: str) -> dict[str, Any]:
    """Parameter name -> default value of a dataset's loader (for ``dlzoo info``)."""
    return {k: p.default for k, p in _entry(name).params.items()}


def load_dataset(name: str, **kwargs: Any) -> TensorData:
    """Load a registered dataset after checking its name, parameter names and parameter types.

    Python values must already have the declared type (an int is accepted for a float); strings are
    parsed, so values from a command line such as ``"0.2"`` or ``"true"`` work.
    """
    entry = _entry(name)
    checked = {}
    for key, value in kwargs.items():
        if key not in entry.params:
            raise DataError(f"dataset {name!r} has no parameter {key!r}; valid parameters: {sorted(entry.params)}")
        checked[key] = _check_type(name, key, value, entry)
    return entry.loader(**checked)


def _entry(name: str) -> _Entry:
    if name not in _REGISTRY:
        raise DataError(f"unknown dataset {name!r}; valid datasets: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def _check_type(name: str, key: str, value: Any, entry: _Entry) -> Any:
    adapter = entry.adapters[key]
    try:
        return adapter.validate_python(value, strict=True)
    except ValidationError as strict_error:
        if isinstance(value, str):  # command-line text: let pydantic parse it
            try:
                return adapter.validate_python(value, strict=False)
            except ValidationError:
                pass
        annotation = inspect.formatannotation(entry.params[key].annotation)
        reason = strict_error.errors()[0]["msg"]
        raise DataError(
            f"dataset {name!r}: parameter {key!r} expects {annotation}, "
            f"got {value!r} ({type(value).__name__}): {reason}"
        ) from None
