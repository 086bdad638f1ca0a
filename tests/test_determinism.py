"""Determinism (SB3's test_deterministic.py, registry-wide): two seeded tiny runs write the same history.

The first run is the session's ``train_tiny`` run (the contract tests train it anyway); the second is a
fresh run of the same config, so the cost is one extra tiny run per model. Every key of every
``metrics.jsonl`` row must match exactly, except ``time`` (wall clock).
"""

from __future__ import annotations

import pytest

from dlzoo.config import resolve_config
from dlzoo.registry import list_models
from dlzoo.runs import RunDir
from dlzoo.training import train_run

# model -> why two seeded runs may differ (declared as data, like timm's EXCLUDE_FILTERS); keep it empty
NONDETERMINISTIC: dict[str, str] = {}

WALL_CLOCK = ("time",)


def history(run: RunDir) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in WALL_CLOCK} for row in run.read_metrics()]


@pytest.mark.parametrize("name", list_models())
def test_two_seeded_runs_write_identical_metrics(name: str, train_tiny, tmp_path) -> None:
    if name in NONDETERMINISTIC:
        pytest.skip(NONDETERMINISTIC[name])
    first = RunDir(train_tiny(name))
    cfg = resolve_config(name, preset="tiny", overrides=["train.progress=false"])
    second = RunDir.create(tmp_path, name, "again")
    train_run(cfg, second)
    a, b = history(first), history(second)
    assert len(a) == len(b), f"{name}: {len(a)} rows, then {len(b)}"
    for i, (u, v) in enumerate(zip(a, b, strict=True)):
        assert u == v, f"{name}: row {i} differs: " + ", ".join(
            f"{k}: {u.get(k)!r} vs {v.get(k)!r}" for k in sorted(u.keys() | v.keys()) if u.get(k) != v.get(k)
        )
