"""Optional dependencies: one import helper whose error names the extra to install.

The base install trains, evaluates and predicts every family; serving, ONNX export, TensorBoard and
the parity/benchmark references come with extras (``pyproject.toml``). A missing one is a one-line
error, not a traceback from deep inside an import.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise MissingExtra naming ``pip install 'dlzoo[<extra>]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        missing = e.name or module
        raise MissingExtra(
            f"{feature} needs the [{extra}] extra ({missing} is not installed): "
            f"pip install -c constraints.txt -e '.[{extra}]'  (or: pip install 'dlzoo[{extra}]')"
        ) from None
