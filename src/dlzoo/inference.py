"""Inference on a loaded run, one function per verb, shared by the CLI and the server.

Inputs are validated here, once: a wrong shape, a non-finite value or an empty batch raises
``InputError`` with what was expected; the caller turns it into an exit code or an HTTP 422.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from dlzoo.runs import LoadedRun

MAX_BATCH = 4096  # examples per request; larger payloads are refused, not truncated
MAX_SAMPLES = 1024


class InputError(ValueError):
    """Input that does not fit the model; the message says what was expected."""


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


@torch.no_grad()
def predict(loaded: LoadedRun, data: Any) -> dict[str, Any]:
    """classify: labels + class probabilities; regress: values."""
    if loaded.spec.task not in ("classify", "regress"):
        raise InputError(f"{loaded.spec.name} is a {loaded.spec.task} model; predict serves classify/regress")
    out = loaded.model(as_batch(loaded, data))
    if loaded.spec.task == "regress":
        return {"predictions": out.reshape(len(out), -1).squeeze(-1).tolist()}
    probs = out.softmax(-1)
    names = loaded.config.info.get("class_names")
    labels = probs.argmax(-1).tolist()
    result: dict[str, Any] = {"labels": labels, "probabilities": probs.tolist()}
    if names:
        result["class_names"] = [names[i] for i in labels]
    return result


def _objective(loaded: LoadedRun, verb: str) -> Any:
    fn = getattr(loaded.spec.objective, verb, None)
    if fn is None:
        raise InputError(f"{loaded.spec.name} does not support {verb}")
    return fn


@torch.no_grad()
def sample(loaded: LoadedRun, *, n: int, seed: int = 0) -> torch.Tensor:
    """n samples from a generative model, (n, *input_shape)."""
    if not 1 <= n <= MAX_SAMPLES:
        raise InputError(f"n must be between 1 and {MAX_SAMPLES}, got {n}")
    generator = torch.Generator().manual_seed(seed)
    return _objective(loaded, "sample")(loaded.model, n, generator)


@torch.no_grad()
def reconstruct(loaded: LoadedRun, data: Any) -> torch.Tensor:
    return _objective(loaded, "reconstruct")(loaded.model, as_batch(loaded, data))


@torch.no_grad()
def act(loaded: LoadedRun, data: Any) -> list[Any]:
    """Greedy actions of a policy for a batch of observations."""
    return _objective(loaded, "act")(loaded.model, as_batch(loaded, data)).tolist()


# -- a family's own request bodies (graphs, prompts, strings) ----------------------------------------


def requests_of(spec: Any) -> dict[str, Any]:
    """verb -> pydantic schema of the request body, for families whose inputs are not tensors.

    A family objective declares ``requests = {"predict": GraphRequest, ...}`` and a staticmethod
    ``serve(verb, loaded, body) -> dict | Iterator[dict | str]``; the server and the CLI then answer
    that verb through :func:`handle` instead of the tensor path above.
    """
    return dict(getattr(spec.objective, "requests", None) or {})


def handle(loaded: LoadedRun, verb: str, body: Any) -> Any:
    """Validate ``body`` (a dict, or an already validated schema instance) and let the objective answer.

    Returns a dict (one JSON response) or an iterator of dicts/strings (a stream: one JSON line each;
    a string item means ``{"text": item}``). Raises InputError for a body that does not fit the schema
    (one line per field) or the model (unknown tokens, node ids).
    """
    from pydantic import ValidationError

    schema = requests_of(loaded.spec).get(verb)
    if schema is None:
        raise InputError(f"{loaded.spec.name} has no {verb} request of its own")
    if not isinstance(body, schema):
        try:
            body = schema.model_validate(body)
        except ValidationError as e:
            raise InputError(
                f"{verb} request for {loaded.spec.name}: "
                + "; ".join(f"{'.'.join(map(str, x['loc'])) or 'body'}: {x['msg']}" for x in e.errors())
            ) from None
    return loaded.spec.objective.serve(verb, loaded, body)
