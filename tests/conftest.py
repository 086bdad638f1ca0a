"""Shared fixtures: isolated data dirs (no network, no ../shared) and tiny trained runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# tiny models: one thread is faster than two and immune to a busy machine; subprocesses inherit it
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never download and never read the shared benchmark data."""
    monkeypatch.setenv("DLZOO_OFFLINE", "1")
    if os.environ.get("DLZOO_DATA", "").rstrip("/").endswith("shared/data"):
        monkeypatch.setenv("DLZOO_DATA", str(tmp_path_factory.mktemp("empty-data")))


@pytest.fixture(scope="session")
def train_tiny(tmp_path_factory: pytest.TempPathFactory):
    """``train_tiny(model, *overrides) -> run path``: trains the tiny preset once per session and argument set."""
    from dlzoo.config import resolve_config
    from dlzoo.runs import RunDir
    from dlzoo.training import train_run

    root = tmp_path_factory.mktemp("runs")
    cache: dict[tuple, Path] = {}

    def make(model: str, *overrides: str) -> Path:
        key = (model, *overrides)
        if key not in cache:
            cfg = resolve_config(model, preset="tiny", overrides=["train.progress=false", *overrides])
            run = RunDir.create(root, model, f"r{len(cache)}")
            train_run(cfg, run)
            cache[key] = run.path
        return cache[key]

    return make
