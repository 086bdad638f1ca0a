"""dlzoo: every core family of deep learning, trained, evaluated, exported and served the same way.

The Python API, imported on first use so that ``import dlzoo`` stays cheap (no torch, no Fabric)::

    import dlzoo

    dlzoo.list_models(family="mlp")                             # ['mlp_classifier', 'mlp_regressor']
    net = dlzoo.create_model("mlp_classifier", in_features=64, num_classes=10)
    run = dlzoo.train("mlp_classifier", preset="tiny", overrides=["train.epochs=5"], runs_dir="runs")
    run.metrics["test/accuracy"], run.path                      # eval.json and the run directory
    loaded = dlzoo.load_run(run.path)                           # model rebuilt from config.yaml + weights
    loaded.model(x)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it (imported when the name is first used)
_LAZY = {
    "create_model": "dlzoo.registry",
    "list_models": "dlzoo.registry",
    "get_spec": "dlzoo.registry",
    "resolve_config": "dlzoo.config",
    "train": "dlzoo.api",
    "TrainResult": "dlzoo.api",
    "load_run": "dlzoo.runs",
    "LoadedRun": "dlzoo.runs",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'dlzoo' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
