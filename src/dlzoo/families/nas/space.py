"""Search spaces as data: a YAML mapping turned into Optuna distributions and back into run overrides.

    model: mlp_classifier            # the registered model every sampled config builds
    preset: tiny                     # the preset the sampled values override
    metric: val/accuracy             # what the search maximizes (direction: maximize | minimize)
    fixed: {train.epochs: 10}        # overrides every trial shares
    params:                          # dotted run-config keys
      model.hidden: [[64], [128, 128]]      # a list: categorical choices (any YAML value)
      model.activation: [relu, gelu]
      train.lr: {low: 1.0e-4, high: 1.0e-2, log: true}   # a range (float; int when both ends are)
    cell: {nodes: 3, ops: [none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3]}
                                     # a NAS-Bench-201 cell: one categorical per edge, composed into
                                     # model.genotype (nas_cell only)

Optuna's categorical choices must be scalars, so a non-scalar choice (a list of widths) is stored in
the study as its JSON text and decoded when the overrides are built.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import yaml

from dlzoo.config import ConfigError, TrainConfig
from dlzoo.families.nas.cell import OP_NAMES, edges, format_genotype
from dlzoo.registry import choices_error, get_spec

SPACES_DIR = Path(__file__).parent / "spaces"
SECTIONS = ("model", "data", "task", "train")


class SpaceError(ConfigError):
    """A search space that cannot be searched: an unknown key, an empty choice, a bad range."""


def _encode(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)


def _decode(value: Any, choices: list[Any]) -> Any:
    for c in choices:  # the original (possibly list-valued) choice whose encoding was stored
        if _encode(c) == value:
            return c
    return value


def edge_param(j: int, i: int) -> str:
    return f"cell.edge_{j}_{i}"


@dataclass
class SearchSpace:
    """A validated search space; ``distributions`` are the Optuna parameters a trial samples."""

    name: str
    model: str
    preset: str = "default"
    metric: str = "val/accuracy"
    direction: str = "maximize"
    fixed: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    cell: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.distributions: dict[str, optuna.distributions.BaseDistribution] = {}
        self._choices: dict[str, list[Any]] = {}
        self._check()

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, name: str = "space") -> SearchSpace:
        known = {"name", "model", "preset", "metric", "direction", "fixed", "params", "cell", "notes"}
        if not isinstance(raw, dict):
            raise SpaceError(f"search space {name!r}: expected a mapping with keys {', '.join(sorted(known))}")
        bad = sorted(set(raw) - known)
        if bad:
            raise SpaceError(f"search space {name!r}: unknown key(s) {bad}; valid: {', '.join(sorted(known))}")
        if "model" not in raw:
            raise SpaceError(f"search space {name!r}: needs 'model' (a registered model name)")
        raw = {k: v for k, v in raw.items() if k != "notes"}
        raw.setdefault("name", name)
        return cls(**raw)

    @classmethod
    def load(cls, source: str | Path) -> SearchSpace:
        """A YAML file, or the name of a bundled space (``families/nas/spaces/<name>.yaml``)."""
        path = Path(source)
        if not path.suffix and (SPACES_DIR / f"{source}.yaml").is_file():
            path = SPACES_DIR / f"{source}.yaml"
        if not path.is_file():
            raise SpaceError(
                f"search space {str(source)!r}: no such file; bundled spaces: {', '.join(bundled_spaces())}"
            )
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise SpaceError(f"search space {path}: not valid YAML ({str(e).splitlines()[0]})") from None
        return cls.from_dict(raw, name=path.stem)

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "model": self.model, "preset": self.preset, "metric": self.metric}
        out.update(direction=self.direction, fixed=self.fixed, params=self.params)
        if self.cell is not None:
            out["cell"] = self.cell
        return out

    # -- validation ----------------------------------------------------------------------------
    def _check(self) -> None:
        where = f"search space {self.name!r}"
        spec = get_spec(self.model)
        if self.preset not in spec.presets:
            raise SpaceError(f"{where}: {choices_error(f'preset for {self.model}', self.preset, list(spec.presets))}")
        if self.direction not in ("maximize", "minimize"):
            raise SpaceError(f"{where}: direction must be maximize or minimize, got {self.direction!r}")
        builder_args = spec.params()
        for key in [*self.fixed, *self.params]:
            section, _, arg = str(key).partition(".")
            if section not in SECTIONS or not arg:
                raise SpaceError(f"{where}: key {key!r} must start with one of {', '.join(s + '.' for s in SECTIONS)}")
            if section == "model" and arg not in builder_args:
                raise SpaceError(
                    f"{where}: unknown builder argument {key!r} of {self.model}; valid: {', '.join(builder_args)}"
                )
            if section == "train" and arg.split(".")[0] not in TrainConfig.model_fields:
                raise SpaceError(f"{where}: {choices_error('train setting', arg, list(TrainConfig.model_fields))}")
        for key, dist in self.params.items():
            self.distributions[key] = self._distribution(key, dist, where)
        if self.cell is not None:
            self._check_cell(where, builder_args)
        if not self.distributions:
            raise SpaceError(f"{where}: nothing to search (no params and no cell)")

    def _distribution(self, key: str, dist: Any, where: str) -> optuna.distributions.BaseDistribution:
        if isinstance(dist, list):
            if not dist:
                raise SpaceError(f"{where}: {key!r} has an empty list of choices (give at least one value)")
            self._choices[key] = dist
            return optuna.distributions.CategoricalDistribution([_encode(c) for c in dist])
        if isinstance(dist, dict) and set(dist) <= {"low", "high", "log"} and {"low", "high"} <= set(dist):
            low, high, log = dist["low"], dist["high"], bool(dist.get("log", False))
            if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and low <= high):
                raise SpaceError(f"{where}: {key!r}: a range needs numbers low <= high, got {dist}")
            if log and low <= 0:
                raise SpaceError(f"{where}: {key!r}: a log range needs low > 0, got {low}")
            if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
                return optuna.distributions.IntDistribution(low, high, log=log)
            return optuna.distributions.FloatDistribution(float(low), float(high), log=log)
        raise SpaceError(
            f"{where}: {key!r} must be a list of choices or {{low, high, log}}, got {dist!r} (an empty value?)"
        )

    def _check_cell(self, where: str, builder_args: dict[str, Any]) -> None:
        if "genotype" not in builder_args:
            raise SpaceError(f"{where}: 'cell' needs a model with a genotype argument (nas_cell), not {self.model}")
        nodes, ops = int(self.cell.get("nodes", 3)), list(self.cell.get("ops", OP_NAMES))
        if not ops:
            raise SpaceError(f"{where}: cell.ops is an empty list of choices")
        bad = [o for o in ops if o not in OP_NAMES]
        if bad or nodes < 2:
            raise SpaceError(f"{where}: cell needs nodes >= 2 and ops from {', '.join(OP_NAMES)}; got {nodes}, {bad}")
        for j, i in edges(nodes):
            self._choices[edge_param(j, i)] = ops
            self.distributions[edge_param(j, i)] = optuna.distributions.CategoricalDistribution(ops)

    # -- sampling ------------------------------------------------------------------------------
    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Sample every parameter through the trial (the sampler decides), as the study stores them."""
        out: dict[str, Any] = {}
        for k, d in self.distributions.items():
            if isinstance(d, optuna.distributions.CategoricalDistribution):
                out[k] = trial.suggest_categorical(k, d.choices)
            elif isinstance(d, optuna.distributions.IntDistribution):
                out[k] = trial.suggest_int(k, d.low, d.high, log=d.log)
            else:
                out[k] = trial.suggest_float(k, d.low, d.high, log=d.log)
        return out

    def overrides(self, params: dict[str, Any]) -> dict[str, Any]:
        """Study parameters -> dotted run-config overrides (fixed ones included, genotype composed)."""
        out = dict(self.fixed)
        for key in self.params:
            value = params[key]
            out[key] = _decode(value, self._choices[key]) if key in self._choices else value
        if self.cell is not None:
            nodes = int(self.cell.get("nodes", 3))
            out["model.genotype"] = format_genotype([params[edge_param(j, i)] for j, i in edges(nodes)])
        return out

    def raw_config(self, params: dict[str, Any]) -> dict[str, Any]:
        """The preset merged with the overrides: the mapping `dlzoo train --config` reads."""
        from dlzoo.config import deep_merge

        raw = deep_merge({"model": {}, "data": {}, "task": {}, "train": {}}, get_spec(self.model).preset(self.preset))
        raw["model"]["name"] = self.model
        raw["preset"] = self.preset
        for key, value in self.overrides(params).items():
            node = raw
            *path, last = key.split(".")
            for p in path:
                node = node.setdefault(p, {})
            node[last] = value
        return raw

    def is_categorical(self) -> bool:
        return all(isinstance(d, optuna.distributions.CategoricalDistribution) for d in self.distributions.values())

    def size(self) -> float:
        """Number of configs (inf when a range is continuous)."""
        return math.prod(
            len(d.choices) if isinstance(d, optuna.distributions.CategoricalDistribution) else math.inf
            for d in self.distributions.values()
        )

    def enumerate(self) -> list[dict[str, Any]]:
        """Every config of a categorical space, as study parameters."""
        if not self.is_categorical():
            raise SpaceError(f"search space {self.name!r} has a continuous range: it cannot be enumerated")
        keys = list(self.distributions)
        grids = [self.distributions[k].choices for k in keys]  # type: ignore[attr-defined]
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grids)]


def bundled_spaces() -> list[str]:
    return sorted(p.stem for p in SPACES_DIR.glob("*.yaml"))
