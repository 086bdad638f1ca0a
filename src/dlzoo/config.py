"""Typed run configs: a preset (data) + dotted overrides, validated with pydantic v2.

A run config has five sections::

    model: {name: mlp_classifier, hidden: [800, 800]}   # registry name + builder keyword arguments
    data:  {name: mnist, flatten: true}                  # dataset name + loader keyword arguments
    task:  {label_smoothing: 0.0}                        # the objective's hyperparameters (its own schema)
    train: {epochs: 10, lr: 0.001, seed: 0}              # the loop: TrainConfig below
    info:  {...}                                         # written by the run: data facts, never by users

``resolve_config("mlp_classifier", preset="tiny", overrides=["train.lr=0.01"])`` merges preset,
defaults and overrides, and every wrong name comes back as a ConfigError listing the valid ones.
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from dlzoo.paradigms import PARADIGMS, validate_data
from dlzoo.registry import ModelSpec, get_spec

SECTIONS = ("model", "data", "task", "train", "info", "preset")


class ConfigError(ValueError):
    """A config that cannot run; the message names the key and what was expected."""


class Criterion(BaseModel):
    """Metrics the loop watches, each to be minimized or maximized (``train.early_stop``, ``train.keep_best``).

    ``monitor`` names metrics as logged: ``val/<metric>`` (checked after each validation) or
    ``train/<metric>`` (the round's mean over its steps, checked every round). One ``mode`` for all,
    or one per monitor. A value improves on the best so far of its metric when it is better by more
    than ``min_delta``, or equal to it too with ``ties_improve`` (the GAT code's ``>=`` / ``<=``).
    """

    model_config = ConfigDict(extra="forbid")

    monitor: list[str] = Field(min_length=1, description="metrics to watch, e.g. val/loss or [val/nll, val/accuracy]")
    mode: list[Literal["min", "max"]] = Field(min_length=1, description="min or max, one for all or one per monitor")
    ties_improve: bool = Field(False, description="a value equal to the best so far counts as an improvement")
    min_delta: float = Field(0.0, ge=0, description="an improvement must beat the best so far by more than this")

    @field_validator("monitor", "mode", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("monitor")
    @classmethod
    def _metric_names(cls, value: list[str]) -> list[str]:
        bad = [m for m in value if not (m.startswith("val/") or m.startswith("train/"))]
        if bad:
            raise ValueError(f"monitors are val/<metric> or train/<metric> names, got {bad}")
        return value

    @model_validator(mode="after")
    def _modes(self) -> Criterion:
        if len(self.mode) == 1:
            self.mode = self.mode * len(self.monitor)
        if len(self.mode) != len(self.monitor):
            raise ValueError(f"{len(self.monitor)} monitors but {len(self.mode)} modes; give one mode or one each")
        return self


class EarlyStop(Criterion):
    """Stop when no monitored metric has improved for ``patience`` checks in a row."""

    patience: int = Field(ge=1, description="checks (validations, or rounds for train/ metrics) without improvement")


class KeepBest(Criterion):
    """Test and save the weights of the round where every monitored metric improved last, not the last round."""


class TrainConfig(BaseModel):
    """The loop's settings, shared by every paradigm."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(
        10, ge=1, description="passes over the training data (rounds for RL/episodic paradigms; per task for continual)"
    )
    batch_size: int = Field(128, ge=1, description="global batch size, split over devices")
    batch_fraction: float | None = Field(
        None,
        gt=0,
        le=1,
        description="size the batch from the training set: min(batch_size, floor(batch_fraction * N_train)), "
        "at least 1 (Fawaz et al. 2019: 0.1, capped at 16 for FCN and 64 for ResNet); the size used is "
        "written back to batch_size in config.yaml",
    )
    optimizer: Literal["adam", "adamw", "sgd"] = Field(
        "adam", description="adam, adamw (decoupled weight decay) or sgd (with momentum)"
    )
    lr: float = Field(1e-3, gt=0, description="peak learning rate")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty (adam, sgd) or decoupled decay (adamw)")
    momentum: float = Field(0.9, ge=0, description="SGD momentum")
    scheduler: Literal["none", "cosine", "step", "plateau"] = Field(
        "none", description="per-epoch LR schedule; plateau: ReduceLROnPlateau on the epoch's mean training loss"
    )
    step_gamma: float = Field(0.5, gt=0, description="'step' scheduler: factor every step_every epochs")
    step_every: int = Field(10, ge=1, description="'step' scheduler: epochs between LR decays")
    plateau_factor: float = Field(0.5, gt=0, lt=1, description="'plateau' scheduler: LR factor on a plateau")
    plateau_patience: int = Field(
        50, ge=0, description="'plateau' scheduler: epochs without a training-loss improvement before a cut"
    )
    min_lr: float = Field(0.0, ge=0, description="'plateau' scheduler: the LR is never cut below this")
    early_stop: EarlyStop | None = Field(
        None,
        description="stop training when no monitored metric improved for patience checks, e.g. "
        "{monitor: val/nll, mode: min, patience: 100}; eval.json's selection says when and why",
    )
    keep_best: KeepBest | None = Field(
        None,
        description="test and save the weights of the best round by these metrics, not the last, e.g. "
        "{monitor: train/loss, mode: min}; eval.json's selection says which round and why",
    )
    grad_clip: float | None = Field(None, gt=0, description="clip the global gradient norm")
    seed: int = Field(0, description="seeds torch, numpy and random, the batch order and the model init")
    accelerator: Literal["auto", "cpu", "cuda", "gpu", "mps"] = Field(
        "cpu", description="hardware to run on (Fabric); auto picks a GPU when there is one"
    )
    devices: int = Field(1, ge=1, description="processes/devices (DDP when > 1)")
    num_nodes: int = Field(1, ge=1, description="machines in a multi-node run (torchrun / fabric run)")
    strategy: Literal["auto", "ddp", "ddp_spawn"] = Field(
        "auto", description="how processes share the work (Fabric); ddp for several devices"
    )
    precision: Literal["32-true", "bf16-mixed", "16-mixed", "bf16-true", "auto"] = Field(
        "32-true",
        description="float32, or mixed / pure bfloat16 or float16 (Fabric precision); auto: bf16-mixed where the "
        "hardware computes bf16 natively and faster (CPU AMX; AVX-512-BF16 where one timed step is 1.2x faster; "
        "a GPU that supports it), else 32-true; "
        "the precision used is in config.yaml's info.precision",
    )
    log_every: int = Field(50, ge=1, description="optimizer steps between metrics.jsonl lines")
    eval_every: int = Field(1, ge=1, description="rounds between validation evaluations")
    checkpoint_every: int = Field(1, ge=1, description="rounds between checkpoints")
    tensorboard: bool = Field(False, description="also write TensorBoard event files")
    progress: bool = Field(
        True, description="show progress on stderr: a bar on a terminal, one line per evaluation in a pipe or log"
    )
    threads: int | Literal["auto"] = Field(
        "auto",
        description="torch's CPU threads: a number, or auto (1 for a small model, else the free cores; "
        "never more than OMP_NUM_THREADS); the count used is in config.yaml's info.threads",
    )
    retain_freed_memory: bool = Field(
        False,
        description="CPU runs on glibc: keep freed memory for the next step (mallopt) instead of faulting "
        "fresh pages in every step; faster for small models, the process keeps up to 1 GiB of freed memory",
    )

    @field_validator("threads", mode="before")
    @classmethod
    def _threads(cls, value: Any) -> int | str:
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        raise ValueError("expected auto or a whole number >= 1")


class RunConfig(BaseModel):
    """A fully resolved run: what ``config.yaml`` holds."""

    model_config = ConfigDict(extra="forbid")

    preset: str
    model: dict[str, Any]
    data: dict[str, Any]
    task: dict[str, Any]
    train: TrainConfig
    info: dict[str, Any] = Field(default_factory=dict)

    @property
    def model_name(self) -> str:
        return self.model["name"]

    def model_args(self) -> dict[str, Any]:
        return {k: v for k, v in self.model.items() if k != "name"}

    def data_args(self) -> dict[str, Any]:
        return {k: v for k, v in self.data.items() if k != "name"}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "config.yaml") -> RunConfig:
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise ConfigError(f"{source}: not valid YAML{where} ({problem})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: expected a mapping with keys {', '.join(SECTIONS)}")
        return validate_run_config(raw, source=source)


def format_validation_error(err: ValidationError, *, prefix: str = "") -> str:
    """pydantic errors as 'section.key: what was expected' lines, unknown keys with valid ones."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in (prefix, *e["loc"]) if p != "")
        if e["type"] == "extra_forbidden":
            lines.append(f"{loc}: unknown key")
        else:
            lines.append(f"{loc}: {e['msg']} (got {e.get('input')!r})")
    return "; ".join(lines)


def _valid_keys_hint(model: type[BaseModel]) -> str:
    return "valid: " + ", ".join(model.model_fields)


def validate_section(schema: type[BaseModel], values: dict[str, Any], *, section: str) -> BaseModel:
    """Validate one section against its schema, raising ConfigError with the valid keys."""
    try:
        return schema.model_validate(values)
    except ValidationError as e:
        raise ConfigError(f"{format_validation_error(e, prefix=section)}; {_valid_keys_hint(schema)}") from None


def builder_schema(spec: ModelSpec) -> type[BaseModel]:
    """A pydantic model of the entrypoint's keyword arguments (types from its annotations)."""
    sig = inspect.signature(spec.builder)
    hints = _annotations(spec.builder)
    fields: dict[str, Any] = {}
    for name, p in sig.parameters.items():  # required (data-derived) arguments may be absent here
        if p.default is inspect.Parameter.empty:
            fields[name] = (hints.get(name, Any) | None, None)
        else:
            fields[name] = (hints.get(name, Any), p.default)
    return create_model(f"{spec.name}_args", __config__=ConfigDict(extra="forbid"), **fields)


def _annotations(fn: Any) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(fn)
    except Exception:  # unresolved forward references: fall back to no type checking
        return {}


def validate_run_config(raw: dict[str, Any], *, source: str = "config") -> RunConfig:
    """Check a whole config: sections, model arguments, task hyperparameters, loop settings."""
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {unknown}; valid: {', '.join(SECTIONS)}")
    for sec in ("model", "data"):
        if not isinstance(raw.get(sec), dict) or "name" not in raw[sec]:
            raise ConfigError(f"{source}: section '{sec}' needs a 'name'")
    spec = get_spec(str(raw["model"]["name"]))
    try:
        validate_data(spec.paradigm, raw["data"])
    except ValueError as e:
        raise ConfigError(str(e)) from None
    task = validate_section(spec.objective.Config, raw.get("task") or {}, section="task")
    train = validate_section(TrainConfig, raw.get("train") or {}, section="train")
    # model arguments: unknown names and wrong types are errors now; data-derived ones are filled by the task
    args = {k: v for k, v in raw["model"].items() if k != "name"}
    valid = spec.params()
    bad = sorted(set(args) - set(valid))
    if bad:
        raise ConfigError(f"model: unknown argument(s) {bad} for {spec.name}; valid: {', '.join(valid)}")
    validate_section(builder_schema(spec), args, section="model")
    info = raw.get("info") or {}
    if not isinstance(info, dict):
        raise ConfigError(f"{source}: section 'info' must be a mapping (got {info!r})")
    _check_shape(info.get("input_shape"), key="info.input_shape", source=source)
    return RunConfig(
        preset=str(raw.get("preset", "custom")),
        model=dict(raw["model"]),
        data=dict(raw["data"]),
        task=task.model_dump(mode="json"),
        train=train,
        info=dict(info),
    )


def _check_shape(shape: Any, *, key: str, source: str) -> None:
    """A recorded shape is absent or a list of whole numbers >= 1."""
    if shape is None:
        return
    ok = isinstance(shape, (list, tuple)) and all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape
    )
    if not ok:
        raise ConfigError(f"{source}: {key}: expected a list of whole numbers >= 1, e.g. [1, 28, 28] (got {shape!r})")


def check_train_fields(spec: ModelSpec, train: dict[str, Any]) -> None:
    """A ``train:`` field set in a preset or an override that the model's paradigm does not read is an
    error naming what to set instead (``dlzoo.paradigms.PARADIGMS``). Fields left at their defaults are
    never checked, so a resolved config.yaml, which lists every field, loads as it is."""
    paradigm = PARADIGMS[spec.paradigm]
    for key in train:
        if key in paradigm.ignores:
            raise ConfigError(
                f"train.{key} is not read by the {spec.paradigm} paradigm ({spec.name}); {paradigm.ignores[key]}"
            )


def parse_override(item: str) -> tuple[list[str], Any]:
    """``train.lr=0.01`` -> (["train", "lr"], 0.01); the value is parsed as YAML."""
    if "=" not in item:
        raise ConfigError(f"override {item!r}: expected section.key=value, e.g. train.lr=0.01")
    key, _, text = item.partition("=")
    path = key.strip().split(".")
    if len(path) < 2 or path[0] not in SECTIONS or path[0] in ("info", "preset"):
        raise ConfigError(f"override {item!r}: key must start with one of model., data., task., train.")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    return path, value


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_config(
    model: str, *, preset: str = "default", overrides: list[str] | None = None, data: str | None = None
) -> RunConfig:
    """Preset of a registered model, then ``--data`` and dotted overrides, validated."""
    spec = get_spec(model)
    raw = deep_merge({"model": {}, "data": {}, "task": {}, "train": {}}, spec.preset(preset))
    raw["model"]["name"] = model
    raw["preset"] = preset
    if data is not None and data != raw["data"].get("name"):
        raw["data"] = _data_section(data, spec, preset_data=raw["data"], info=raw.setdefault("info", {}))
    apply_overrides(raw, overrides or [])
    check_train_fields(spec, raw["train"])
    return validate_run_config(raw, source=f"{model} preset {preset!r}")


def _data_section(data: str, spec: ModelSpec, *, preset_data: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """``--data NAME``: a registered loader (its own defaults, not the preset's), or a dataset inside one.

    A Planetoid graph, TU set or UCR set found under ``DLZOO_DATA`` (``dlzoo.data.resolve``) becomes
    ``{name: <loader>, dataset: <Name>}`` (keeping the preset's other arguments when the preset uses that
    loader too), and ``info.data_resolved`` says so; anything else is a ConfigError with the exact form."""
    from dlzoo.data import list_datasets
    from dlzoo.data.resolve import find_dataset, not_found_hint

    if PARADIGMS[spec.paradigm].data == "environment" or data in list_datasets():
        return {"name": data}  # another dataset: its own loader defaults, not the preset's
    found = find_dataset(data)
    if not found:
        raise ConfigError(f"unknown dataset {data!r}; valid: {', '.join(list_datasets())}; {not_found_hint(data)}")
    pick = next((f for f in found if f.loader == preset_data.get("name")), found[0])
    section = dict(preset_data) if pick.loader == preset_data.get("name") else {"name": pick.loader}
    section["dataset"] = pick.dataset
    info["data_resolved"] = f"--data {data}: resolved to {pick.form()} ({pick.where})"
    return section


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> None:
    """Set each dotted ``section.key=value`` in ``raw`` (in place)."""
    for item in overrides:
        path, value = parse_override(item)
        node = raw.setdefault(path[0], {})
        for depth, p in enumerate(path[1:-1], start=1):
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                where = ".".join(path[: depth + 1])
                raise ConfigError(
                    f"override {item!r}: {where} is a value ({node!r}), not a section; expected {where}=<value>"
                )
        node[path[-1]] = value


def config_from_file(path: str | Path, *, overrides: list[str] | None = None) -> RunConfig:
    """A run config from a YAML file (a run's config.yaml, or `dlzoo nas export`'s best.yaml), then overrides."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--config {path}: no such file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("model"), dict) or "name" not in raw["model"]:
        raise ConfigError(f"{path}: expected a run config mapping with model.name, data, task, train")
    for sec in ("model", "data", "task", "train"):
        raw.setdefault(sec, {})
    info = raw.get("info") if isinstance(raw.get("info"), dict) else {}
    raw["info"] = {k: v for k, v in info.items() if k == "nas"}  # facts of an old run are re-derived
    apply_overrides(raw, overrides or [])
    return validate_run_config(raw, source=str(path))
