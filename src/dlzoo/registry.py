"""The architecture registry: one entrypoint function per model, presets as data.

A family registers its models in ``families/<family>/presets.py``::

    @register_model(family="mlp", task="classify", paradigm="supervised",
                    presets={"tiny": {...}, "default": {...}})
    def mlp_classifier(*, in_features: int, num_classes: int, hidden: tuple[int, ...] = (256,)) -> MLP:
        return MLP(...)

``create_model(name, **overrides)`` builds it with its keyword arguments validated, and
``list_models(family=..., task=...)`` feeds the CLI, the server and the contract tests.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from torch import nn

from dlzoo import protocols
from dlzoo.paradigms import PARADIGMS

#: task kinds and the HTTP verbs they are served under (see serve/); few_shot models answer /adapt only,
#: embed models (self-supervised encoders) /embed and /similar
TASKS = ("classify", "regress", "generate", "control", "few_shot", "embed")


class RegistryError(ValueError):
    """An unknown model, preset or argument; the message lists the valid choices."""


def choices_error(kind: str, got: str, valid: list[str] | tuple[str, ...]) -> str:
    """One line that names the bad value and the valid ones, the house style for every option."""
    return f"unknown {kind} {got!r}; valid: {', '.join(sorted(valid)) or '(none)'}"


@dataclass(frozen=True)
class ModelSpec:
    """Everything the pipeline needs to know about one registered model."""

    name: str  # registry name, unique across families, e.g. "mlp_classifier"
    family: str  # folder under families/, e.g. "mlp"
    task: str  # one of TASKS: decides the serving verb and the metrics
    paradigm: str  # one of dlzoo.paradigms.PARADIGMS: the Task that trains it
    builder: Callable[..., nn.Module]  # keyword-only entrypoint function
    presets: dict[str, dict[str, Any]]  # preset name -> partial run config (model/data/task/train)
    description: str  # first line of the entrypoint's docstring
    objective: Any  # the training objective: Config of the task: section + the paradigm's math (protocols.py)
    pipeline: Any = protocols.Pipeline  # inference and serving glue: verbs, request schemas, export inputs
    plots: Any = protocols.Plots  # the family's figures
    tags: tuple[str, ...] = field(default=())

    def params(self) -> dict[str, Any]:
        """Builder keyword arguments and their defaults (inspect.Parameter.empty when required)."""
        sig = inspect.signature(self.builder)
        return {n: p.default for n, p in sig.parameters.items()}

    def preset(self, name: str) -> dict[str, Any]:
        if name not in self.presets:
            raise RegistryError(choices_error(f"preset for {self.name}", name, list(self.presets)))
        return self.presets[name]


_REGISTRY: dict[str, ModelSpec] = {}
_LOADED = False


def register_model(
    *,
    family: str,
    task: str,
    paradigm: str,
    presets: dict[str, dict[str, Any]],
    objective: Any = None,
    pipeline: Any = protocols.Pipeline,
    plots: Any = protocols.Plots,
    tags: tuple[str, ...] = (),
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register an entrypoint function under its own name. Every model needs a ``tiny`` preset.

    ``objective`` implements the paradigm's protocol (``dlzoo.protocols``; a supervised model without
    one gets cross-entropy or MSE), ``pipeline`` serves and exports it, ``plots`` draws its figures;
    each is checked here, so a family that misses a member fails on import with one line.
    """
    if task not in TASKS:
        raise RegistryError(choices_error("task", task, TASKS))
    if paradigm not in PARADIGMS:
        raise RegistryError(choices_error("paradigm", paradigm, list(PARADIGMS)))
    if "tiny" not in presets:
        raise RegistryError("every model needs a 'tiny' preset (the contract tests train it)")
    if objective is None:
        if paradigm != "supervised":
            raise RegistryError(f"the {paradigm} paradigm needs an objective in register_model")
        from dlzoo.objectives import ClassifyObjective, RegressObjective

        objective = ClassifyObjective if task == "classify" else RegressObjective
    try:
        protocols.check_members(objective, PARADIGMS[paradigm].objective, role=f"{paradigm} objective")
        protocols.check_pipeline(pipeline)
        protocols.check_members(plots, protocols.Plots, role="plots")
    except protocols.ProtocolError as e:
        raise RegistryError(str(e)) from None

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = fn.__name__
        if name in _REGISTRY:
            raise RegistryError(f"model {name!r} is registered twice")
        bad = [p.name for p in inspect.signature(fn).parameters.values() if p.kind is not p.KEYWORD_ONLY]
        if bad:
            raise RegistryError(f"{name}: entrypoint parameters must be keyword-only, not {bad}")
        doc = (inspect.getdoc(fn) or name).splitlines()[0]
        _REGISTRY[name] = ModelSpec(name, family, task, paradigm, fn, presets, doc, objective, pipeline, plots, tags)
        return fn

    return wrap


def families() -> list[str]:
    """Every folder under ``dlzoo/families`` with a ``presets.py``: adding a family is adding a folder."""
    import dlzoo.families as pkg

    return sorted(
        m.name
        for m in pkgutil.iter_modules(pkg.__path__)
        if m.ispkg and any((Path(p) / m.name / "presets.py").is_file() for p in pkg.__path__)
    )


def _load_families() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for fam in families():
            importlib.import_module(f"dlzoo.families.{fam}.presets")


def get_spec(name: str) -> ModelSpec:
    _load_families()
    if name not in _REGISTRY:
        raise RegistryError(choices_error("model", name, list(_REGISTRY)))
    return _REGISTRY[name]


def list_models(*, family: str | None = None, task: str | None = None, paradigm: str | None = None) -> list[str]:
    """Registered model names, sorted, optionally filtered."""
    _load_families()
    if family is not None and family not in families():
        raise RegistryError(choices_error("family", family, families()))
    if task is not None and task not in TASKS:
        raise RegistryError(choices_error("task", task, TASKS))
    return sorted(
        s.name
        for s in _REGISTRY.values()
        if (family is None or s.family == family)
        and (task is None or s.task == task)
        and (paradigm is None or s.paradigm == paradigm)
    )


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model; unknown or missing arguments raise RegistryError with the valid ones."""
    spec = get_spec(name)
    params = spec.params()
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise RegistryError(f"{name}: unknown argument(s) {unknown}; valid: {', '.join(params)}")
    missing = [k for k, d in params.items() if d is inspect.Parameter.empty and k not in kwargs]
    if missing:
        raise RegistryError(f"{name}: missing required argument(s) {missing}")
    try:
        return spec.builder(**kwargs)
    except (ValueError, TypeError, RuntimeError) as e:
        if isinstance(e, RegistryError) or "out of memory" in str(e).lower():
            raise
        from dlzoo.config import ConfigError  # config imports this module: late, to keep one error type

        keys = _culprits(e, kwargs, params)
        named = ", ".join(f"model.{k}={kwargs[k]!r}" for k in keys) or "its model arguments"
        raise ConfigError(
            f"{name}: cannot build the model with {named}: {e} (see `dlzoo info {name}` for what each expects)"
        ) from None


def _scalars(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _scalars(v)]
    return [] if isinstance(value, bool) or value is None else [str(value)]


def _culprits(error: BaseException, kwargs: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """The model arguments a builder's error is about: those it names, else those whose values it quotes
    (data-derived, required arguments only when nothing else matches), else every argument with a default."""
    import re

    text = str(error)
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    tokens = set(re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|[A-Za-z_][A-Za-z0-9_]*", text))
    named = [k for k in kwargs if k in words]
    if named:
        return named
    settable = [k for k in kwargs if params[k] is not inspect.Parameter.empty]
    quoted = [k for k in settable if any(s in tokens for s in _scalars(kwargs[k]))]
    return quoted or settable
