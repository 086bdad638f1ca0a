"""Inputs of a batched request, checked on the event loop without calling into torch.

Why: building a tensor from a nested list (``torch.as_tensor``) or checking one (``torch.isfinite``)
releases the GIL inside torch, and getting it back means waiting for the batching thread, which holds
it while it runs Python between forward passes (splitting outputs, ``tolist``). Profiled at 32 clients
(benchmarks/serving_load.py, cProfile of the event loop), ``torch.as_tensor`` of one 64-number example
took 0.53 ms on the event loop (7 µs alone): half of the loop's time per request. Here the common case
(a rectangular nested list of numbers, finite in float32, inside the training data's range) is
flattened and checked in plain Python into an ``array('f')``; the batching thread then joins the
requests' arrays and makes one tensor of the whole batch. Anything else (a wrong shape, an empty batch,
a value out of range or beyond float32) goes to ``dlzoo.validation.as_batch``, which raises the
``InputError`` naming what was expected: the fast path accepts exactly what ``as_batch`` accepts.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from dlzoo.validation import MAX_BATCH, as_batch, input_shape

if TYPE_CHECKING:
    from dlzoo.runs import LoadedRun

FLOAT32_MAX = 3.4028234663852886e38


@dataclass(frozen=True)
class Rows:
    """Validated examples as float32 values in row-major order, and their shape (B, *input_shape)."""

    values: array
    shape: tuple[int, ...]

    def __len__(self) -> int:
        return self.shape[0]

    def tensor(self) -> torch.Tensor:
        return join([self])


def join(parts: list[Any]) -> torch.Tensor:
    """One batch tensor from validated inputs: ``Rows`` (joined as arrays, one tensor) or tensors (``cat``)."""
    if all(isinstance(p, Rows) for p in parts):
        values = parts[0].values if len(parts) == 1 else _concat(parts)
        n = sum(len(p) for p in parts)  # frombuffer keeps the array alive as long as the tensor
        return torch.frombuffer(values, dtype=torch.float32).view(n, *parts[0].shape[1:])
    tensors = [p.tensor() if isinstance(p, Rows) else p for p in parts]
    return torch.cat(tensors) if len(tensors) > 1 else tensors[0]


def _concat(parts: list[Rows]) -> array:
    out = array("f")
    for p in parts:
        out.extend(p.values)
    return out


def prepare(loaded: LoadedRun, data: Any) -> Rows | torch.Tensor:
    """``as_batch`` without torch for the common case; every other input goes through ``as_batch``."""
    rows = _fast(loaded, data)
    return rows if rows is not None else as_batch(loaded, data)


def _fast(loaded: LoadedRun, data: Any) -> Rows | None:
    shape = input_shape(loaded)
    dims: list[int] = []
    d = data
    while type(d) is list:
        if not d:
            return None
        dims.append(len(d))
        d = d[0]
    leaves = [data]
    for n in dims:  # one level at a time: every item a list of the same length (rectangular)
        if not all(type(v) is list and len(v) == n for v in leaves):
            return None
        leaves = leaves[0] if len(leaves) == 1 else [v for item in leaves for v in item]
    if not dims:
        return None
    if tuple(dims) == shape:
        dims = [1, *dims]
    if len(dims) == 2 and dims[1] == math.prod(shape) and len(shape) > 1:
        dims = [dims[0], *shape]
    if tuple(dims[1:]) != shape or not 0 < dims[0] <= MAX_BATCH:
        return None
    bounds = loaded.config.info.get("input_range")
    try:
        total = sum(leaves)  # a TypeError where a leaf is a list (ragged depth), a string or null
        if total != total:  # a NaN somewhere (min and max skip it)
            return None
        lo, hi = min(leaves), max(leaves)
        if not -FLOAT32_MAX <= lo <= hi <= FLOAT32_MAX:  # beyond float32 (or huge ints): as_batch decides
            return None
        if bounds and not float(bounds[0]) <= lo <= hi <= float(bounds[1]):  # out of range: as_batch says so
            return None
        return Rows(array("f", leaves), tuple(dims))
    except (TypeError, ValueError, OverflowError):  # not numbers: as_batch names the problem
        return None
