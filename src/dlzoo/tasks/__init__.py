"""Paradigms: how batches are drawn, what one step is, how a model is evaluated.

``make_task(ctx)`` builds the Task of the model's paradigm, named in the one table of paradigms
(``dlzoo.paradigms.PARADIGMS``). The objective it trains is ``ctx.spec.objective`` (the registry
fills in the supervised defaults), whose ``Config`` is the schema of the run config's ``task:`` section.
This package never imports a family: families and paradigms meet through the registry and
``dlzoo.protocols``.
"""

from __future__ import annotations

import importlib
from typing import Any

from dlzoo.paradigms import PARADIGMS
from dlzoo.registry import choices_error


def make_task(ctx: Any) -> Any:
    """The Task of the model's paradigm, bound to ``ctx`` (imported on demand: paradigms are heavy)."""
    paradigm = ctx.spec.paradigm
    if paradigm not in PARADIGMS:
        raise ValueError(choices_error("paradigm", paradigm, list(PARADIGMS)))
    module, cls = PARADIGMS[paradigm].task.split(":")
    return getattr(importlib.import_module(module), cls)(ctx)
