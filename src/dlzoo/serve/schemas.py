"""Request and response bodies of the HTTP API (pydantic v2; they make up /openapi.json).

Inputs are JSON numbers in nested lists: one example of the model's ``input_shape`` or a batch of
them (``GET /v1/models/{name}`` says which shape). Numbers are strict: strings, booleans, nulls,
NaN and Infinity are refused with 422; the shape itself is checked against the model later.
"""

from __future__ import annotations


from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from dlzoo.validation import MAX_SAMPLES, Tensor  # the strict JSON tensor type is the core's (families use it)

#: model outputs: floats in nested lists
Array = TypeAliasType("Array", float | list["Array"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests -----------------------------------------------------------------------------------


class InputsRequest(_Body):
    """Examples for predict / reconstruct / act."""

    inputs: Tensor = Field(
        description="one example of shape input_shape, or a batch (B, *input_shape); "
        "flattened images (B, prod(input_shape)) are accepted too (GET /v1/models/{name} gives input_shape; "
        "no example here: each model takes its own shape)",
    )


class SampleRequest(_Body):
    n: int = Field(16, ge=1, le=MAX_SAMPLES, strict=True, description="number of samples")
    seed: int = Field(
        0, ge=0, le=2**63 - 1, strict=True, description="seed of the sampler's noise: same seed, same samples"
    )


# -- responses ----------------------------------------------------------------------------------


class PredictResponse(BaseModel):
    """classify: labels + probabilities (+ class_names); regress: predictions. Always batched."""

    model: str = Field(description="the run that answered, as <model>@<run>")
    labels: list[int] | None = Field(None, description="classify: argmax class index per example")
    probabilities: list[list[float]] | None = Field(None, description="classify: softmax over classes per example")
    class_names: list[str] | None = Field(None, description="classify: name of each predicted label")
    predictions: list[float] | list[list[float]] | None = Field(None, description="regress: value(s) per example")


class SampleResponse(BaseModel):
    model: str
    samples: list[Array] = Field(description="n samples, each of the model's input_shape")
    shape: list[int] = Field(description="shape of samples: (n, *input_shape)")


class TextSampleResponse(BaseModel):
    """``/sample`` of a language model (without ``stream``): its continuations of the prompt."""

    model: str
    completions: list[str] = Field(description="n continuations of the prompt")
    prompt_tokens: int = Field(description="characters in the prompt as sent")
    prompt_truncated: bool = Field(description="the prompt was longer than the context: its last block_size were used")
    seed: int


class ReconstructResponse(BaseModel):
    model: str
    reconstructions: list[Array] = Field(description="one reconstruction per input example")
    shape: list[int]


class ActResponse(BaseModel):
    model: str
    actions: list[int] | list[list[float]] = Field(
        description="greedy action per observation: an index (discrete) or a vector (continuous)"
    )


class ModelInfo(BaseModel):
    name: str = Field(description="shortest name that resolves to this run")
    aliases: list[str] = Field(
        description="every name that resolves to this run: <model>@<run>, and <model> for the latest run of a model"
    )
    model: str = Field(description="registry name")
    run: str = Field(description="run directory name")
    latest: bool = Field(description="the newest run of this model (what <model> resolves to)")
    family: str
    task: str = Field(description="classify | regress | generate | control | few_shot | embed")
    paradigm: str
    description: str
    input_shape: list[int] | None = Field(description="per-example input shape")
    class_names: list[str] | None = None
    data: str | None = Field(None, description="dataset (or environment) it was trained on")
    metrics: dict[str, float | None] = Field(description="final metrics from eval.json, 'split/metric'")
    verbs: list[str] = Field(description="POST /v1/models/{name}/<verb> this model serves")
    runtime: str = Field("pytorch", description="what answers predict: pytorch, or onnxruntime (the run's ONNX export)")
    bodies: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="verbs answered with a request body of the family's own (graphs, prompts): the body's JSON schema",
    )


class PlotInfo(BaseModel):
    name: str = Field(description="file name in the run's plots/ folder")
    url: str = Field(description="GET it for the PNG (with the API key, if the server has one)")
    bytes: int


class CardResponse(BaseModel):
    """A run's model card (card.md, written at the end of training) and the figures of its plots/ folder."""

    model: str = Field(description="the run, as <model>@<run>")
    card: str | None = Field(description="card.md as Markdown; null when the run has none (info has the facts)")
    info: ModelInfo
    plots: list[PlotInfo] = Field(description="the run's figures (PNG files of plots/), by name")


class SkippedRun(BaseModel):
    path: str = Field(description="run directory, relative to the served folder")
    error: str


class ModelList(BaseModel):
    version: int = Field(
        description="version of this list: goes up by one each time POST /v1/reload changes what is served"
    )
    models: list[ModelInfo]
    skipped: list[SkippedRun] = Field(description="run directories that could not be loaded, and why")


class ReloadResponse(BaseModel):
    version: int = Field(description="version of the model list after the reload (unchanged if nothing changed)")
    added: list[str] = Field(description="runs served since this reload, as <model>@<run>")
    reloaded: list[str] = Field(description="runs whose weights changed (trained again in place), loaded again")
    removed: list[str] = Field(description="runs no longer served (their folder is gone or no longer loads)")
    skipped: int = Field(description="run directories that could not be loaded (listed by GET /v1/models)")


class Health(BaseModel):
    status: str
    models: int


class ErrorResponse(BaseModel):
    detail: str = Field(description="what was wrong and what was expected")
    request_id: str | None = Field(None, description="the request's X-Request-ID (also in the server's log lines)")
