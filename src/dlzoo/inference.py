"""Inference on a loaded run, one function per verb, shared by the CLI and the server.

Inputs are validated once (``dlzoo.validation``): a wrong shape, a non-finite value or an empty batch
raises ``InputError`` with what was expected; the caller turns it into an exit code or an HTTP 422.
Verbs beyond ``predict`` are the family pipeline's (``spec.pipeline``, ``dlzoo.protocols.Pipeline``).
"""

from __future__ import annotations

from typing import Any

import torch

from dlzoo.runs import LoadedRun
from dlzoo.validation import MAX_BATCH, MAX_SAMPLES, InputError, as_batch, check_range, input_shape

__all__ = [
    "MAX_BATCH",
    "MAX_SAMPLES",
    "InputError",
    "act",
    "as_batch",
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
    return _pipeline(loaded, "reconstruct").reconstruct(loaded.model, as_batch(loaded, data))


@torch.no_grad()
def act(loaded: LoadedRun, data: Any) -> list[Any]:
    """Greedy actions of a policy for a batch of observations."""
    return _pipeline(loaded, "act").act(loaded.model, as_batch(loaded, data)).tolist()


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
    return loaded.spec.pipeline.serve(verb, loaded, body)
