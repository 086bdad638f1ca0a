"""Paradigms: how batches are drawn, what one step is, how a model is evaluated.

``make_task(ctx)`` picks the paradigm module named by the model's spec. ``objective_for(spec)`` is
the class whose ``Config`` is the schema of the run config's ``task:`` section.
"""

from __future__ import annotations

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


def make_task(ctx: Any) -> Any:
    paradigm = ctx.spec.paradigm
    if paradigm == "supervised":
        from dlzoo.tasks.supervised import SupervisedTask as T
    elif paradigm == "generative":
        from dlzoo.tasks.generative import GenerativeTask as T
    elif paradigm == "reinforcement":
        from dlzoo.tasks.reinforcement import ReinforcementTask as T
    else:
        raise ValueError(choices_error("paradigm", paradigm, ("supervised", "generative", "reinforcement")))
    return T(ctx)


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
