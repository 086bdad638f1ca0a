"""Input validation, shared by the families, the CLI and the server: one place that says what was expected.

A wrong shape, a non-finite value or an empty batch raises ``InputError`` with what was expected;
the caller turns it into an exit code or an HTTP 422. ``Tensor`` is the strict JSON type of tensor
inputs in request bodies (numbers in nested lists; strings, booleans, nulls, NaN and Infinity refused).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

import torch
from pydantic import AllowInfNan, Strict
from typing_extensions import TypeAliasType

if TYPE_CHECKING:
    from dlzoo.runs import LoadedRun

Number = Annotated[int, Strict()] | Annotated[float, Strict(), AllowInfNan(False)]
#: a JSON number or a (nested) list of them: one example of shape input_shape, or a batch
Tensor = TypeAliasType("Tensor", Number | list["Tensor"])

MAX_BATCH = 4096  # examples per request; larger payloads are refused, not truncated
MAX_SAMPLES = 1024


class InputError(ValueError):
    """Input that does not fit the model; the message says what was expected."""


class NonFiniteOutput(InputError):
    """The model's output is not finite (the forward pass overflowed) for the examples at ``rows``."""

    def __init__(self, message: str, rows: list[int]) -> None:
        super().__init__(message)
        self.rows = rows


def nonfinite_message(magnitude: float, *, where: str = "") -> str:
    """What a non-finite output means for the caller: inputs too large for the model's float32 arithmetic."""
    return (
        f"{where + ': ' if where else ''}the model's output is not finite for these inputs; inputs of magnitude "
        f"up to {magnitude:.3g} were sent, and the forward pass overflows float32 (±3.4e38) on them; "
        f"send values of the scale of the training data"
    )


def nonfinite_error(x: torch.Tensor, rows: list[int]) -> NonFiniteOutput:
    """The error for a request whose examples ``rows`` (of its own batch ``x``) gave non-finite outputs."""
    where = "inputs" + (f"[{', '.join(map(str, rows[:8]))}{', ...' if len(rows) > 8 else ''}]" if len(x) > 1 else "")
    magnitude = float(x[rows].abs().max()) if x.numel() else 0.0
    return NonFiniteOutput(nonfinite_message(magnitude, where=where), rows)


def check_finite_output(x: torch.Tensor, out: torch.Tensor) -> None:
    """Raise :class:`NonFiniteOutput` naming the examples of ``x`` whose row of ``out`` (B, ...) is not finite.

    Every tensor verb passes here (inference.predict / reconstruct / act): a NaN or infinity is an error,
    never a result (JSON would carry it as null)."""
    if not out.is_floating_point():
        return
    ok = torch.isfinite(out.reshape(len(out), -1)).all(1)
    if not bool(ok.all()):
        raise nonfinite_error(x, (~ok).nonzero().flatten().tolist())


def input_shape(loaded: LoadedRun) -> tuple[int, ...]:
    """Per-example input shape recorded at training time (``info.input_shape`` in config.yaml)."""
    shape = loaded.config.info.get("input_shape")
    if not shape:
        raise InputError(f"{loaded.spec.name}: run has no recorded input_shape")
    return tuple(int(s) for s in shape)


def as_batch(loaded: LoadedRun, data: Any) -> torch.Tensor:
    """A nested list / array of one example or a batch -> float tensor (B, *input_shape)."""
    shape = input_shape(loaded)
    try:
        x = torch.as_tensor(data, dtype=torch.float32)
    except (TypeError, ValueError, OverflowError) as e:
        raise InputError(f"inputs must be numbers in nested lists of shape (batch, {_fmt(shape)}): {e}") from None
    if x.numel() == 0:
        raise InputError(f"empty batch: send at least one example of shape ({_fmt(shape)})")
    if x.ndim == len(shape) and tuple(x.shape) == shape:
        x = x.unsqueeze(0)
    flat = math.prod(shape)
    if x.ndim == 2 and x.shape[1] == flat and len(shape) > 1:  # flattened images are accepted too
        x = x.reshape(-1, *shape)
    if tuple(x.shape[1:]) != shape:
        raise InputError(f"expected inputs of shape (batch, {_fmt(shape)}) or ({_fmt(shape)}), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise InputError("empty batch: send at least one example")
    if x.shape[0] > MAX_BATCH:
        raise InputError(f"batch of {x.shape[0]} examples is over the limit of {MAX_BATCH}")
    if not torch.isfinite(x).all():
        raise InputError("inputs contain NaN or infinity (numbers beyond float32's ±3.4e38 count as infinity)")
    check_range(loaded, x)
    return x


def check_range(loaded: LoadedRun, x: torch.Tensor) -> None:
    """Refuse values outside the training data's ``info.input_range`` (e.g. 0..255 pixels for a [0, 1] model)."""
    bounds = loaded.config.info.get("input_range")
    if not bounds:
        return
    lo, hi = float(bounds[0]), float(bounds[1])
    tol = 1e-6 * max(1.0, hi - lo)
    x_min, x_max = float(x.min()), float(x.max())
    if x_min < lo - tol or x_max > hi + tol:
        raise InputError(
            f"inputs must lie in [{lo:g}, {hi:g}], the range of the training data "
            f"({loaded.config.info.get('dataset')}); got values in [{x_min:g}, {x_max:g}]"
            + (" (scale 0..255 pixels by 1/255)" if hi == 1.0 and x_max > 1.0 else "")
        )


def _fmt(shape: tuple[int, ...]) -> str:
    return ", ".join(map(str, shape))
