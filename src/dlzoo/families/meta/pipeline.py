"""Serving of the few-shot models: ``POST /v1/models/{name}/adapt`` (support set + queries -> predictions).

A few-shot model cannot answer a query alone: its outputs mean something only after adaptation to a
support set. So these models are registered with task ``few_shot`` (no ``/predict``) and serve

    {"support_inputs": [...], "support_labels": [0, 1, ...], "queries": [...], "inner_steps": 5}

-> ``labels`` + ``probabilities`` of each query (classification: labels 0..N-1, every class at least
once in the support set) or ``predictions`` (regression, e.g. sinusoid: float targets). Adaptation is
bounded: at most ``MAX_WAYS`` ways, ``MAX_SHOTS`` examples per class, ``MAX_QUERIES`` queries,
``MAX_INNER_STEPS`` inner steps and ``TIME_LIMIT_S`` seconds of inner loop (the answer says how many
steps ran). It runs on detached copies of the weights (functional parameters, prototypes, a new
head): nothing is written back to the served model. ``dlzoo export`` captures the backbone's forward
(logits of the meta-learned initialization, or embeddings) on examples of the recorded input shape.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.protocols import Pipeline
from dlzoo.validation import InputError, Tensor, as_batch

MAX_WAYS = 20  # classes in one /adapt support set
MAX_SHOTS = 20  # support examples per class (regression: MAX_WAYS * MAX_SHOTS points)
MAX_QUERIES = 1000  # queries per request
MAX_INNER_STEPS = 100  # inner-loop steps per request
TIME_LIMIT_S = 10.0  # wall-clock budget of one adaptation; the inner loop stops when it is spent


class AdaptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    support_inputs: Tensor = Field(description="the support examples (S, *input_shape)")
    support_labels: list[float] = Field(
        min_length=1,
        max_length=MAX_WAYS * MAX_SHOTS,
        description="one per support example: class labels 0..N-1 (classification) or targets (regression)",
    )
    queries: Tensor = Field(description="the examples to predict after adaptation (Q, *input_shape)")
    inner_steps: int | None = Field(
        None,
        ge=0,
        le=MAX_INNER_STEPS,
        description="inner-loop steps (MAML-type models; default the run's task.eval_inner_steps)",
    )


def check_support(y: list[float], n: int, *, regression: bool, max_ways: int) -> torch.Tensor:
    """The support labels as a tensor, or InputError saying what was expected."""
    if len(y) != n:
        raise InputError(f"support_labels has {len(y)} labels for {n} support inputs: give one label per input")
    if regression:
        if n > MAX_WAYS * MAX_SHOTS:
            raise InputError(f"{n} support points is over the limit of {MAX_WAYS * MAX_SHOTS}")
        return torch.tensor(y, dtype=torch.float32)[:, None]  # (S, 1)
    if any(v != int(v) or v < 0 for v in y):
        raise InputError("support_labels must be class labels 0, 1, ..., N-1 (integers) for a classifier")
    labels = torch.tensor([int(v) for v in y])
    ways = int(labels.max()) + 1
    if ways > max_ways:
        raise InputError(f"{ways} ways is over the limit of {max_ways} for this model")
    counts = torch.bincount(labels, minlength=ways)
    if int(counts.min()) < 1:
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise InputError(f"every class 0..{ways - 1} needs at least one support example; none for {missing}")
    if int(counts.max()) > MAX_SHOTS:
        raise InputError(f"{int(counts.max())} shots of one class is over the limit of {MAX_SHOTS}")
    return labels


class MetaPipeline(Pipeline):
    """``/adapt`` for every model of the family (the objective's adapt + predict)."""

    requests: ClassVar[dict[str, type[BaseModel]]] = {"adapt": AdaptRequest}

    @staticmethod
    def serve(verb: str, loaded: Any, body: AdaptRequest) -> dict[str, Any]:
        from dlzoo.families.meta.maml import now_plus

        spec, cfg = loaded.spec, loaded.config
        objective = spec.objective(spec.objective.Config(**cfg.task))
        regression = cfg.info.get("data_task") == "regress"
        xs, xq = as_batch(loaded, body.support_inputs), as_batch(loaded, body.queries)
        if len(xq) > MAX_QUERIES:
            raise InputError(f"{len(xq)} queries is over the limit of {MAX_QUERIES}")
        head = cfg.model.get("out_features")  # MAML-type heads have n_way outputs
        max_ways = min(MAX_WAYS, int(head)) if head and not regression else MAX_WAYS
        ys = check_support(body.support_labels, len(xs), regression=regression, max_ways=max_ways)
        model = loaded.model.eval()
        adapted = objective.adapt(model, xs, ys, steps=body.inner_steps, deadline=now_plus(TIME_LIMIT_S))
        with torch.no_grad():
            out = objective.predict(model, adapted, xq)
        steps = getattr(adapted, "steps", None)
        if regression:
            return {"predictions": out.reshape(-1).tolist(), "inner_steps": steps}
        probs = torch.softmax(out, dim=-1)
        return {
            "labels": probs.argmax(-1).tolist(),
            "probabilities": probs.tolist(),
            "ways": int(ys.max()) + 1,
            "inner_steps": steps,
        }
