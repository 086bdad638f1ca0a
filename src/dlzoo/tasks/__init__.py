"""Paradigms: how batches are drawn, what one step is, how a model is evaluated.

``make_task(ctx)`` picks the paradigm module named by the model's spec. ``objective_for(spec)`` is
the class whose ``Config`` is the schema of the run config's ``task:`` section.
"""

from __future__ import annotations

import importlib
from typing import Any

from dlzoo.registry import ModelSpec, choices_error


def objective_for(spec: ModelSpec) -> Any:
    """The family's objective class, or the paradigm's default (supervised losses)."""
    if spec.objective is not None:
        return spec.objective
    if spec.paradigm == "supervised":
        from dlzoo.tasks.supervised import ClassifyObjective, RegressObjective

        return ClassifyObjective if spec.task == "classify" else RegressObjective
    raise ValueError(f"{spec.name}: paradigm {spec.paradigm!r} needs an objective in register_model")


#: paradigm -> "module:Class" of its Task; a new paradigm adds one line here and its name to registry.PARADIGMS
PARADIGM_TASKS: dict[str, str] = {
    "supervised": "dlzoo.tasks.supervised:SupervisedTask",
    "generative": "dlzoo.tasks.generative:GenerativeTask",
    "reinforcement": "dlzoo.tasks.reinforcement:ReinforcementTask",
    "seq2seq": "dlzoo.tasks.seq2seq:Seq2SeqTask",
    "language": "dlzoo.tasks.language:LanguageTask",
    "graph": "dlzoo.tasks.graph:graph_task",
    "adversarial": "dlzoo.tasks.adversarial:AdversarialTask",
}


def make_task(ctx: Any) -> Any:
    """The Task of the model's paradigm, bound to ``ctx`` (imported on demand: paradigms are heavy)."""
    paradigm = ctx.spec.paradigm
    if paradigm not in PARADIGM_TASKS:
        raise ValueError(choices_error("paradigm", paradigm, list(PARADIGM_TASKS)))
    module, cls = PARADIGM_TASKS[paradigm].split(":")
    return getattr(importlib.import_module(module), cls)(ctx)


def validate_data(spec: ModelSpec, data: dict[str, Any]) -> None:
    """Check the ``data:`` section before training starts (datasets, or environments for RL)."""
    if spec.paradigm == "reinforcement":
        from dlzoo.tasks.reinforcement import validate_env

        validate_env(data)
    else:
        from dlzoo.data import dataset_params, list_datasets

        name = str(data["name"])
        if name not in list_datasets():
            raise ValueError(choices_error("dataset", name, list_datasets()))
        valid = dataset_params(name)
        bad = sorted(set(data) - {"name"} - set(valid))
        if bad:
            raise ValueError(f"data: unknown argument(s) {bad} for {name}; valid: {', '.join(valid)}")
