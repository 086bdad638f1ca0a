"""Serving and export of the diffusion models: ``/sample`` with the sampler chosen per request.

    POST /v1/models/{name}/sample {"n": 16, "sampler": "ddim", "steps": 50, "eta": 0.0, "seed": 0}
      -> {"samples": [...], "shape": [16, 2], "sampler": "ddim", "steps": 50}
    POST /v1/models/{name}/sample {"n": 8, "sampler": "ddpm", "steps": 1000, "label": 3, "guidance": 2.0,
                                   "stream": true}
      -> JSON lines {"step": 50, "of": 1000} ... then {"samples": [...], "shape": [8, 1, 28, 28], ...}

Every field is bounded (pydantic Field limits: a value out of range, or an unknown sampler, is a 422
naming the field and what it accepts); ``steps`` above the model's T, or a label on an unconditional
model, is a 422 too. The server's budget counts ``n x steps`` (``dlzoo serve --max-sample-steps``).
``dlzoo export`` captures forward: the denoiser of the EMA weights, inputs (x_t, t) or (x_t, t, y).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.families.diffusion.samplers import SAMPLERS, drain, generate
from dlzoo.protocols import Pipeline
from dlzoo.validation import MAX_SAMPLES, InputError, input_shape

MAX_STEPS = 1000
DEFAULT_STEPS = 50


class DiffusionSampleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(16, ge=1, le=MAX_SAMPLES, description="number of samples")
    sampler: Literal[SAMPLERS] = Field("ddim", description=f"one of {', '.join(SAMPLERS)}")  # type: ignore[valid-type]
    steps: int = Field(DEFAULT_STEPS, ge=1, le=MAX_STEPS, description="denoising steps (at most the model's T)")
    eta: float = Field(0.0, ge=0, le=1, allow_inf_nan=False, description="ddim: 0 deterministic, 1 ancestral noise")
    guidance: float = Field(
        1.0, ge=0, le=20, allow_inf_nan=False, description="classifier-free guidance scale w (1: plain conditional)"
    )
    label: int | None = Field(
        None, ge=0, description="class of every sample (class-conditional models); None: unconditional"
    )
    seed: int = Field(0, ge=0, le=2**63 - 1, description="the same seed gives the same samples")
    stream: bool = Field(False, description="JSON lines: the denoising progress, then the samples")


def _check(model: Any, body: DiffusionSampleRequest) -> None:
    if body.steps > model.T:
        raise InputError(f"steps must be at most the model's T = {model.T}, got {body.steps}")
    if body.label is not None and not model.num_classes:
        raise InputError("label: this model is unconditional (no classes); leave label out")
    if body.label is not None and body.label >= model.num_classes:
        raise InputError(f"label must be in 0..{model.num_classes - 1}, got {body.label}")


class DiffusionPipeline(Pipeline):
    """Samples of every diffusion model of the family."""

    requests: ClassVar[dict[str, type[BaseModel]]] = {"sample": DiffusionSampleRequest}
    sample_steps: ClassVar[int] = DEFAULT_STEPS  # the budget uses the request's own ``steps`` when given

    @staticmethod
    def serve(verb: str, loaded: Any, body: Any) -> dict[str, Any] | Iterator[dict[str, Any]]:
        model = loaded.model.eval()
        _check(model, body)
        labels = None if body.label is None else torch.full((body.n,), body.label, dtype=torch.long)
        g = torch.Generator().manual_seed(body.seed)
        kw = {"sampler": body.sampler, "steps": body.steps, "eta": body.eta, "guidance": body.guidance}
        gen = generate(model, body.n, labels=labels, generator=g, **kw)
        meta = {"sampler": body.sampler, "steps": body.steps}
        if not body.stream:
            with torch.no_grad():
                x = drain(gen)
            return {"samples": x.tolist(), "shape": list(x.shape), **meta}
        return _stream(gen, body.steps, meta)

    @staticmethod
    def export_inputs(loaded: Any, n: int) -> tuple[torch.Tensor, ...]:
        """forward's inputs: x_t ~ N(0, I) (n, *input_shape), t (n,) in [0, T-1], and y (n,) if conditional."""
        g = torch.Generator().manual_seed(n)
        model = loaded.model
        x = torch.randn((n, *input_shape(loaded)), generator=g)
        t = torch.rand(n, generator=g) * (model.T - 1)
        if model.num_classes:
            return x, t, torch.randint(0, model.num_classes + 1, (n,), generator=g)
        return x, t


def _stream(gen: Any, steps: int, meta: dict[str, Any]) -> Iterator[dict[str, Any]]:
    every = max(1, steps // 20)
    with torch.no_grad():
        while True:
            try:
                done = next(gen)
            except StopIteration as stop:
                x = stop.value
                break
            if done % every == 0 or done == steps:
                yield {"step": done, "of": steps}
    yield {"samples": x.tolist(), "shape": list(x.shape), **meta}
