"""Serving of the continual models: ``POST /v1/models/{name}/predict`` with an optional task id.

    {"inputs": [...], "task_id": 2}  ->  {"labels": [...], "probabilities": [[...], ...], "units": [...]}

Output unit u means (task u // k, local label u % k) (``dlzoo.data.streams``). With a task id the answer
is that task's head (task- and class-IL: its k units; domain-IL: the shared head) and ``labels`` are the
dataset's classes; without one every unit competes (class-IL inference) and a domain-IL model answers
local labels (the position of a class within its task). A task id the model was never trained on is
refused (422): the stream recorded in config.yaml says which tasks exist.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.protocols import Pipeline
from dlzoo.validation import InputError, Tensor, as_batch, check_finite_output


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: Tensor = Field(description="a batch of examples (B, *input_shape), or one example")
    task_id: int | None = Field(None, ge=0, description="the task the examples come from (selects its head)")


def units_for(stream: dict[str, Any], task_id: int | None) -> list[int]:
    """The output units a request is answered over; InputError for a task the model never saw."""
    tasks, k, outputs = int(stream["tasks"]), int(stream["classes_per_task"]), int(stream["num_outputs"])
    if task_id is not None and task_id >= tasks:
        raise InputError(f"task_id {task_id} was never seen: this model was trained on tasks 0..{tasks - 1}")
    if task_id is None or stream["scenario"] == "domain":
        return list(range(outputs))
    return list(range(task_id * k, (task_id + 1) * k))


def label_of(stream: dict[str, Any], unit: int, task_id: int | None) -> int:
    """The dataset's class of an output unit (a local label for domain-IL without a task id)."""
    k, classes = int(stream["classes_per_task"]), stream["task_classes"]
    if stream["scenario"] == "domain":
        return int(classes[task_id][unit]) if task_id is not None else unit
    return int(classes[unit // k][unit % k])


class ContinualPipeline(Pipeline):
    """``/predict`` for every strategy of the family (they share the network and the stream record)."""

    requests: ClassVar[dict[str, type[BaseModel]]] = {"predict": PredictRequest}

    @staticmethod
    def serve(verb: str, loaded: Any, body: PredictRequest) -> dict[str, Any]:
        stream = loaded.config.info["stream"]
        units = units_for(stream, body.task_id)
        x = as_batch(loaded, body.inputs)
        with torch.no_grad():
            out = loaded.model.eval()(x)  # (B, O)
        check_finite_output(x, out)
        probs = out[:, units].softmax(-1)  # (B, len(units))
        best = [units[i] for i in probs.argmax(-1).tolist()]
        space = "within-task" if stream["scenario"] == "domain" and body.task_id is None else "class"
        return {
            "labels": [label_of(stream, u, body.task_id) for u in best],
            "probabilities": probs.tolist(),
            "units": units,
            "label_space": space,
            "task_id": body.task_id,
        }
