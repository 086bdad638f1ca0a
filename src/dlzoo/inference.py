"""Inference on a loaded run, one function per verb, shared by the CLI and the server.

Inputs are validated once (``dlzoo.validation``): a wrong shape, a non-finite value or an empty batch
raises ``InputError`` with what was expected; the caller turns it into an exit code or an HTTP 422.
Verbs beyond ``predict`` are the family pipeline's (``spec.pipeline``, ``dlzoo.protocols.Pipeline``).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from dlzoo.runs import LoadedRun
from dlzoo.validation import (
    MAX_BATCH,
    MAX_SAMPLES,
    InputError,
    NonFiniteOutput,
    as_batch,
    check_finite_output,
    check_range,
    input_shape,
    nonfinite_message,
)

__all__ = [
    "MAX_BATCH",
    "MAX_SAMPLES",
    "InputError",
    "NonFiniteOutput",
    "act",
    "as_batch",
    "check_finite_output",
    "check_range",
    "handle",
    "input_shape",
    "predict",
    "reconstruct",
    "requests_of",
    "sample",
]


@torch.no_grad()
def predict(loaded: LoadedRun, data: Any) -> dict[str, Any]:
    """classify: labels + class probabilities; regress: values."""
    if loaded.spec.task not in ("classify", "regress"):
        raise InputError(f"{loaded.spec.name} is a {loaded.spec.task} model; predict serves classify/regress")
    x = as_batch(loaded, data)
    out = loaded.model(x)
    check_finite_output(x, out)
    if loaded.spec.task == "regress":
        return {"predictions": out.reshape(len(out), -1).squeeze(-1).tolist()}
    probs = out.softmax(-1)
    names = loaded.config.info.get("class_names")
    labels = probs.argmax(-1).tolist()
    result: dict[str, Any] = {"labels": labels, "probabilities": probs.tolist()}
    if names:
        result["class_names"] = [names[i] for i in labels]
    return result


def _pipeline(loaded: LoadedRun, verb: str) -> Any:
    """The family's pipeline, if it serves the tensor verb ``verb``."""
    pipeline = loaded.spec.pipeline
    if verb not in pipeline.verbs:
        raise InputError(f"{loaded.spec.name} does not support {verb}")
    return pipeline


@torch.no_grad()
def sample(loaded: LoadedRun, *, n: int, seed: int = 0) -> torch.Tensor:
    """n samples from a generative model, (n, *input_shape)."""
    if not 1 <= n <= MAX_SAMPLES:
        raise InputError(f"n must be between 1 and {MAX_SAMPLES}, got {n}")
    generator = torch.Generator().manual_seed(seed)
    return _pipeline(loaded, "sample").sample(loaded.model, n, generator)


@torch.no_grad()
def reconstruct(loaded: LoadedRun, data: Any) -> torch.Tensor:
    x = as_batch(loaded, data)
    out = _pipeline(loaded, "reconstruct").reconstruct(loaded.model, x)
    check_finite_output(x, out)
    return out


@torch.no_grad()
def act(loaded: LoadedRun, data: Any) -> list[Any]:
    """Greedy actions of a policy for a batch of observations."""
    x = as_batch(loaded, data)
    out = _pipeline(loaded, "act").act(loaded.model, x)
    check_finite_output(x, out)  # continuous actions; discrete ones are indices
    return out.tolist()


# -- a family's own request bodies (graphs, prompts, strings) ----------------------------------------


def requests_of(spec: Any) -> dict[str, Any]:
    """verb -> pydantic schema of the request body, for families whose inputs are not tensors.

    A family pipeline declares ``requests = {"predict": GraphRequest, ...}`` and a staticmethod
    ``serve(verb, loaded, body) -> dict | Iterator[dict | str]`` (``dlzoo.protocols.Pipeline``); the
    server and the CLI then answer that verb through :func:`handle` instead of the tensor path above.
    """
    return dict(spec.pipeline.requests)


def handle(loaded: LoadedRun, verb: str, body: Any) -> Any:
    """Validate ``body`` (a dict, or an already validated schema instance) and let the pipeline answer.

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
    out = loaded.spec.pipeline.serve(verb, loaded, body)
    if isinstance(out, dict) and not _all_finite(out):
        raise InputError(nonfinite_message(_largest(body.model_dump())))
    return out


def _all_finite(value: Any) -> bool:
    """No NaN or infinity among the floats of a JSON-like answer (a family's own response)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_all_finite(v) for v in value)
    return True


def _largest(value: Any) -> float:
    """The largest magnitude among the numbers of a request body (ids included)."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, (int, float)):
        return abs(float(value)) if not isinstance(value, int) or abs(value) < 2**1000 else float("inf")
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return max((_largest(v) for v in value), default=0.0)
    return 0.0
