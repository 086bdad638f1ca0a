"""The layers hold: import contracts, the base install, the protocols, and honest train: sections.

- ``lint-imports`` keeps the contracts of ``[tool.importlinter]`` in pyproject.toml (families import
  only the core; tasks never import a family; the core imports none of the layers above it; serve
  never imports training);
- every family imports without the [serve]/[export] extras, and Fabric is imported only when a run starts;
- every registered piece implements its protocol, and a piece that does not fails at registration;
- a ``train:`` field the paradigm does not read is an error naming what to set instead, while a
  finished run's fully resolved config.yaml still loads.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from pydantic import BaseModel, ConfigDict

import dlzoo
from dlzoo import protocols, registry
from dlzoo.config import ConfigError, RunConfig, TrainConfig, resolve_config
from dlzoo.paradigms import LOOP_FIELDS, PARADIGMS

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(dlzoo.__file__).resolve().parents[1]  # the dlzoo under test (an editable install or PYTHONPATH)


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300
    )


# -- import contracts ---------------------------------------------------------------------------------


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        pytest.skip("import-linter is not installed (pip install 'dlzoo[dev]'): the layer contracts are not checked")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout and "families import only the core KEPT" in proc.stdout


def test_base_install_imports_every_family_and_resolves_every_preset() -> None:
    """No fastapi/anyio/httpx/uvicorn/onnx/onnxruntime: every family module imports, every preset resolves,
    and neither Fabric nor matplotlib is loaded by the registry."""
    proc = _run_python(
        """
        import importlib, importlib.abc, pkgutil, sys

        BLOCKED = {"fastapi", "anyio", "httpx", "uvicorn", "onnx", "onnxruntime", "starlette"}

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"blocked: {name} is not in the base install")
                return None

        sys.meta_path.insert(0, Block())
        import dlzoo.families
        from dlzoo import registry
        from dlzoo.config import resolve_config

        for m in pkgutil.walk_packages(dlzoo.families.__path__, "dlzoo.families."):
            importlib.import_module(m.name)
        for name in registry.list_models():
            for preset in registry.get_spec(name).presets:
                resolve_config(name, preset=preset)
        loaded = sorted(m for m in ("lightning_fabric", "matplotlib", *BLOCKED) if m in sys.modules)
        print("LOADED", loaded)
        """
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "LOADED []" in proc.stdout, proc.stdout


def test_base_install_trains_evaluates_and_predicts_every_family(tmp_path: Path) -> None:
    """Without any extra (serve, export, tensorboard, parity, bench, dev tools), one model of every family
    trains its tiny preset, is re-evaluated from its run directory and answers its inference verb."""
    proc = _run_python(
        f"""
        import sys

        BLOCKED = {{"fastapi", "anyio", "httpx", "uvicorn", "starlette", "onnx", "onnxruntime", "onnxscript",
                    "tensorboard", "torch_geometric", "statsmodels", "stable_baselines3", "click", "pytest"}}
        for module in BLOCKED:  # as if not installed: import raises ImportError, find_spec answers None
            sys.modules[module] = None
        import torch
        from dlzoo import inference, registry
        from dlzoo.config import resolve_config
        from dlzoo.evaluate import evaluate_run
        from dlzoo.runs import RunDir, load_run
        from dlzoo.training import train_run

        for family in registry.families():
            name = registry.list_models(family=family)[0]
            run = RunDir.create({str(tmp_path)!r}, name, "base")
            train_run(resolve_config(name, preset="tiny", overrides=["train.progress=false"]), run)
            metrics = evaluate_run(run.path)
            loaded = load_run(run.path)
            spec, pipeline = loaded.spec, loaded.spec.pipeline
            if "predict" in pipeline.requests or "sample" in pipeline.requests:
                verb = "forward"  # a family's own request body (graphs, prompts, strings): its model answers
                with torch.no_grad():
                    out = loaded.model(*pipeline.export_inputs(loaded, 2))
            elif "adapt" in pipeline.requests:  # few-shot models: a support set and queries
                verb, x = "adapt", pipeline.export_inputs(loaded, 4)[0].clamp(0, 1)
                body = {{"support_inputs": x[:2].tolist(), "support_labels": [0, 1], "queries": x[2:].tolist()}}
                out = inference.handle(loaded, "adapt", body)
            elif spec.task in ("classify", "regress"):
                verb = "predict"
                x = pipeline.export_inputs(loaded, 3)[0]
                if loaded.config.info.get("input_range"):
                    x = x.clamp(*loaded.config.info["input_range"])
                out = inference.predict(loaded, x.tolist())
            elif "embed" in pipeline.requests:  # self-supervised encoders: the representation of inputs
                x = pipeline.export_inputs(loaded, 2)[0].clamp(*(loaded.config.info.get("input_range") or (-1e9, 1e9)))
                verb, out = "embed", inference.handle(loaded, "embed", {{"inputs": x.tolist()}})
            elif "sample" in pipeline.verbs:
                verb, out = "sample", inference.sample(loaded, n=2)
            elif "reconstruct" in pipeline.verbs:
                x = pipeline.export_inputs(loaded, 2)[0].clamp(*loaded.config.info["input_range"])
                verb, out = "reconstruct", inference.reconstruct(loaded, x.tolist())
            else:
                verb, out = "act", inference.act(loaded, pipeline.export_inputs(loaded, 2)[0].tolist())
            print("OK", family, name, verb, len(metrics) > 0, out is not None)
        print("LOADED", sorted(m for m in BLOCKED if sys.modules.get(m) is not None))
        """
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    done = [
        line.split()[1] for line in proc.stdout.splitlines() if line.startswith("OK") and line.endswith("True True")
    ]
    assert done == registry.families(), proc.stdout
    assert "LOADED []" in proc.stdout, proc.stdout


def test_fabric_is_imported_only_when_a_run_starts() -> None:
    proc = _run_python(
        """
        import sys
        import dlzoo.training, dlzoo.plots, dlzoo.registry, dlzoo.tasks, dlzoo.tasks.supervised
        dlzoo.registry.list_models()
        print("FABRIC", "lightning_fabric" in sys.modules)
        """
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "FABRIC False" in proc.stdout


def test_no_optional_hook_probing_left() -> None:
    """Consumers call the declared protocol members; nothing probes objectives or pipelines by name
    (protocols.py checks the members once, at registration)."""
    probe = re.compile(r"(getattr|hasattr)\([^)]*(objective|pipeline|Objective)\b")
    found = [
        f"{path.relative_to(SRC)}:{i}: {line.strip()}"
        for path in sorted((SRC / "dlzoo").rglob("*.py"))
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if probe.search(line) and path.name != "protocols.py"
    ]
    assert not found, "\n".join(found)


# -- the paradigm table and the protocols -----------------------------------------------------------


def test_every_paradigm_reads_or_ignores_every_train_field() -> None:
    fields = set(TrainConfig.model_fields)
    for p in PARADIGMS.values():
        reads, ignores = set(p.reads) | set(LOOP_FIELDS), set(p.ignores)
        assert not reads & ignores, f"{p.name}: {sorted(reads & ignores)} both read and ignored"
        assert reads | ignores == fields, f"{p.name}: undeclared train fields {sorted(fields - reads - ignores)}"
        assert all(hint.strip() for hint in p.ignores.values())
    assert set(registry.PARADIGMS) == set(PARADIGMS)


@pytest.mark.parametrize("name", registry.list_models())
def test_registered_pieces_implement_their_protocols(name: str) -> None:
    spec = registry.get_spec(name)
    protocols.check_members(spec.objective, PARADIGMS[spec.paradigm].objective, role="objective")
    protocols.check_pipeline(spec.pipeline)
    protocols.check_members(spec.plots, protocols.Plots, role="plots")
    spec.objective.Config()  # the task: section has defaults for every field
    served = (*spec.pipeline.verbs, *spec.pipeline.requests)
    if spec.task == "control":
        assert "act" in served
    elif spec.task == "generate":
        assert served, f"{name} is a generate model that serves nothing"


def _tiny(**kwargs: object) -> None:
    registry.register_model(family="mlp", task="generate", presets={"tiny": {"data": {"name": "digits"}}}, **kwargs)(
        _layers_probe
    )


def _layers_probe(*, width: int = 1) -> torch.nn.Module:
    """A throwaway entrypoint (test only)."""
    return torch.nn.Linear(1, width)


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _NoLoss:
    Config = _Config


class _SampleClaimed(protocols.Pipeline):
    verbs = ("sample",)  # declared, never implemented


class _Body(BaseModel):
    n: int = 1


class _NoServe(protocols.Pipeline):
    requests = {"embed": _Body}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"paradigm": "generative"}, "needs an objective"),
        ({"paradigm": "generative", "objective": _NoLoss}, "lacks loss, evaluate, split_metrics"),
        ({"paradigm": "supervised", "pipeline": _SampleClaimed}, "declares sample but does not implement it"),
        ({"paradigm": "supervised", "pipeline": _NoServe}, "declares serve but does not implement it"),
        ({"paradigm": "supervised", "plots": object}, "lacks draw"),
    ],
)
def test_a_piece_that_misses_its_protocol_fails_at_registration(kwargs: dict, expected: str) -> None:
    registry._load_families()
    try:
        with pytest.raises(registry.RegistryError, match=expected) as err:
            _tiny(**kwargs)
        assert "\n" not in str(err.value)
    finally:
        registry._REGISTRY.pop("_layers_probe", None)


# -- honest configs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "override", "expected"),
    [
        (
            "dcgan",
            "train.lr=0.5",
            "train.lr is not read by the adversarial paradigm (dcgan); set task.lr_g / task.lr_d",
        ),
        ("gan", "train.optimizer=sgd", "set task.betas_g / task.betas_d"),
        ("gpt", "train.epochs=3", "train.epochs is not read by the language paradigm (gpt); set task.max_iters"),
        ("gpt", "train.scheduler=cosine", "set task.warmup_iters"),
        ("dqn", "train.epochs=3", "train.epochs is not read by the reinforcement paradigm (dqn); set task.total_steps"),
        ("dqn", "train.step_every=3", "set task.lr_schedule"),
    ],
)
def test_a_train_field_the_paradigm_ignores_is_an_error(model: str, override: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        resolve_config(model, preset="tiny", overrides=[override])


def test_fields_a_paradigm_reads_are_accepted() -> None:
    assert resolve_config("dcgan", preset="tiny", overrides=["train.epochs=2"]).train.epochs == 2
    assert resolve_config("gpt", preset="tiny", overrides=["train.lr=0.01"]).train.lr == 0.01
    assert resolve_config("dqn", preset="tiny", overrides=["train.batch_size=8"]).train.batch_size == 8


@pytest.mark.parametrize("model", ["dcgan", "gpt", "dqn"])
def test_a_fully_resolved_config_yaml_still_loads(model: str) -> None:
    """config.yaml of a finished run lists every train: field (older runs with non-default values too)."""
    raw = resolve_config(model, preset="tiny").model_dump(mode="json")
    raw["train"].update(lr=0.5, epochs=7)  # what an older run may have recorded; never read by these paradigms
    import yaml

    cfg = RunConfig.from_yaml(yaml.safe_dump(raw, sort_keys=False))
    assert set(raw["train"]) == set(TrainConfig.model_fields) and cfg.train.lr == 0.5


def test_cli_refuses_an_ignored_train_field_with_the_hint(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "dlzoo", "train", "dcgan", "--preset", "tiny", "--runs", str(tmp_path), "train.lr=0.5"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = " ".join((proc.stdout + proc.stderr).split())
    assert "train.lr is not read by the adversarial paradigm" in out and "task.lr_g / task.lr_d" in out
    assert not list(tmp_path.iterdir())  # refused before a run directory was made
