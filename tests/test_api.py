"""The Python API: ``import dlzoo`` is cheap, and ``dlzoo.create_model / train / load_run`` work as documented."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_import_dlzoo_loads_neither_torch_nor_fabric() -> None:
    code = (
        "import sys, dlzoo; "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning', 'lightning_fabric')"
        " or m.startswith('dlzoo.')); "
        "print(heavy); assert callable(dlzoo.create_model)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error() -> None:
    import dlzoo

    with pytest.raises(AttributeError, match="has no attribute 'trian'"):
        dlzoo.trian  # noqa: B018
    assert {"create_model", "train", "load_run", "list_models"} <= set(dir(dlzoo))


def test_create_model_builds_a_registered_model() -> None:
    import torch

    import dlzoo

    net = dlzoo.create_model("mlp_classifier", in_features=64, num_classes=10, hidden=(32,))
    assert net(torch.randn(5, 64)).shape == (5, 10)
    assert "mlp_classifier" in dlzoo.list_models(family="mlp")


def test_train_then_load_run_gives_the_recorded_metrics(tmp_path: Path) -> None:
    import torch

    import dlzoo
    from dlzoo.runs import RunExistsError

    run = dlzoo.train(
        "mlp_classifier",
        preset="tiny",
        overrides=["train.epochs=3", "train.progress=false"],
        runs_dir=tmp_path,
        name="api",
    )
    assert run.path == tmp_path / "mlp_classifier" / "api"
    assert run.metrics == json.loads((run.path / "eval.json").read_text())
    assert run.metrics["test/accuracy"] > 0.5  # 3 epochs of the tiny preset on digits (chance 0.1)
    assert run.config.train.epochs == 3 and run.config.info["dataset"] == "digits"

    loaded = dlzoo.load_run(run.path)
    assert loaded.spec.name == "mlp_classifier" and not loaded.model.training
    with torch.no_grad():
        assert loaded.model(torch.zeros(2, 64)).shape == (2, 10)

    with pytest.raises(RunExistsError):  # the same name again is refused, as on the command line
        dlzoo.train("mlp_classifier", preset="tiny", runs_dir=tmp_path, name="api")


def test_train_rejects_a_bad_config_before_writing_anything(tmp_path: Path) -> None:
    import dlzoo
    from dlzoo.config import ConfigError

    with pytest.raises(ConfigError, match="train.lrr: unknown key"):
        dlzoo.train("mlp_classifier", preset="tiny", overrides=["train.lrr=1"], runs_dir=tmp_path)
    assert not any(tmp_path.iterdir())
