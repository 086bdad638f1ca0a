"""The `dlzoo` command in subprocesses, as a user runs it: clear one-line errors, a full pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def dlzoo(
    *args: str, cwd: Path | None = None, stdin: str | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    env = {**os.environ, "DLZOO_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "dlzoo", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin,
        timeout=timeout,
        env=env,
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "mlp_clasifier"], "unknown model 'mlp_clasifier'; valid: "),
        (["train", "mlp_classifier", "--preset", "huge"], "unknown preset for mlp_classifier 'huge'; valid: default"),
        (["train", "mlp_classifier", "--data", "imagenet"], "unknown dataset 'imagenet'; valid: "),
        (["train", "mlp_classifier", "train.lrr=3"], "train.lrr: unknown key; valid: epochs"),
        (["train", "mlp_classifier", "train.optimizer=adagrad"], "'adam', 'adamw' or 'sgd'"),
        (["info", "nope"], "unknown model 'nope'"),
        (["eval", "/nonexistent/run"], "not a run directory"),
        (["list", "--family", "vision"], "unknown family 'vision'; valid: "),
    ],
)
def test_bad_input_is_one_clear_line_without_traceback(args: list[str], needle: str) -> None:
    proc = dlzoo(*args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert needle in " ".join(proc.stderr.split()), proc.stderr
    assert proc.stderr.strip().count("\n") <= 2  # one message (rich may wrap it), not a dump


@pytest.mark.parametrize(
    ("args", "blocked", "extra"),
    [
        (["serve"], "uvicorn", "serve"),
        (["serve"], "fastapi", "serve"),
        (["export", "runs/any", "--format", "onnx"], "onnxruntime", "export"),
        (["export", "runs/any", "--format", "onnx"], "onnxscript", "export"),
    ],
)
def test_a_missing_extra_is_one_line_naming_the_extra(args: list[str], blocked: str, extra: str) -> None:
    """As on a base install: the optional module cannot be imported (None in sys.modules blocks it)."""
    code = f"import sys; sys.modules[{blocked!r}] = None; sys.argv = ['dlzoo', *{args!r}]; "
    code += "from dlzoo.cli import main; main()"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"needs the [{extra}] extra ({blocked} is not installed)" in " ".join(proc.stderr.split()), proc.stderr


def test_list_and_info() -> None:
    proc = dlzoo("list")
    assert proc.returncode == 0 and "mlp_classifier" in proc.stdout
    proc = dlzoo("info", "mlp_classifier", "--preset", "tiny")
    assert proc.returncode == 0, proc.stderr
    assert "model.in_features = required (filled from the data)" in proc.stdout
    assert "train.epochs = 30" in proc.stdout  # the tiny preset's value, not the default


def test_version_prints_the_package_version() -> None:
    from dlzoo import __version__

    proc = dlzoo("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"dlzoo {__version__}"


def test_info_marks_the_train_fields_the_paradigm_does_not_read() -> None:
    proc = dlzoo("info", "dcgan", "--preset", "tiny")
    assert proc.returncode == 0, proc.stderr
    lines = [" ".join(line.split()) for line in proc.stdout.splitlines()]
    assert "train.lr (not read) # adversarial: set task.lr_g / task.lr_d" in lines, proc.stdout
    assert any(line.startswith("train.epochs = ") for line in lines)  # read by the adversarial paradigm


def test_list_json_is_machine_readable_and_matches_the_registry() -> None:
    from dlzoo.registry import get_spec, list_models

    proc = dlzoo("list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["name"] for r in rows] == list_models()
    assert all(set(r) == {"name", "family", "task", "paradigm", "presets", "description"} for r in rows)
    mlp = next(r for r in rows if r["name"] == "mlp_classifier")
    spec = get_spec("mlp_classifier")
    assert mlp == {
        "name": "mlp_classifier",
        "family": "mlp",
        "task": "classify",
        "paradigm": "supervised",
        "presets": list(spec.presets),
        "description": spec.description,
    }
    only = json.loads(dlzoo("list", "--json", "--family", "gnn").stdout)
    assert only and {r["family"] for r in only} == {"gnn"}


def test_info_prints_every_field_with_its_description() -> None:
    from dlzoo.config import TrainConfig
    from dlzoo.objectives import ClassifyObjective

    proc = dlzoo("info", "mlp_classifier", "--preset", "default")
    assert proc.returncode == 0, proc.stderr
    lines = {line.split("=")[0].strip(): line for line in proc.stdout.splitlines() if "=" in line}
    # every train: and task: field, with its value in this preset and its pydantic description
    for section, schema in (("train", TrainConfig), ("task", ClassifyObjective.Config)):
        for key, field in schema.model_fields.items():
            assert field.description, f"{section}.{key} has no description"
            line = lines[f"{section}.{key}"]
            assert line.rstrip().endswith(f"# {field.description}"), line
    assert "train.weight_decay = 0.0001" in lines["train.weight_decay"]  # the preset's value
    assert "task.label_smoothing = 0.1" in lines["task.label_smoothing"]
    # the builder's arguments: type and description (from the model's Args: section)
    assert "# tuple[int, ...]; widths of the hidden layers" in lines["model.hidden"]
    assert lines["model.hidden"].startswith("  model.hidden = [256]")
    assert "# int; number of classes" in lines["model.num_classes"]
    assert "data.test_size = 0.2" in proc.stdout


def test_train_predict_eval_export_pipeline(tmp_path: Path) -> None:
    proc = dlzoo(
        "train",
        "mlp_classifier",
        "--preset",
        "tiny",
        "--runs",
        str(tmp_path),
        "--name",
        "a",
        "train.epochs=3",
        "train.progress=false",
    )
    assert proc.returncode == 0, proc.stderr
    assert "test/accuracy=" in proc.stdout
    run = tmp_path / "mlp_classifier" / "a"
    saved = json.loads((run / "eval.json").read_text())

    # the same name again refuses to overwrite; --resume of a finished run is a no-op that ends the same
    again = dlzoo("train", "mlp_classifier", "--preset", "tiny", "--runs", str(tmp_path), "--name", "a")
    assert again.returncode == 2 and "--resume" in again.stderr

    from sklearn.datasets import load_digits

    x = load_digits().data[:3].tolist()
    proc = dlzoo("predict", str(run), "-", stdin=json.dumps({"inputs": x}))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["labels"]) == 3 and all(abs(sum(p) - 1) < 1e-5 for p in out["probabilities"])

    bad = dlzoo("predict", str(run), "-", stdin=json.dumps({"inputs": [[1.0, 2.0]]}))
    assert bad.returncode == 2 and "expected inputs of shape (batch, 64)" in " ".join(bad.stderr.split())

    proc = dlzoo("eval", str(run))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["test/accuracy"] == pytest.approx(saved["test/accuracy"])


def test_resume_rejects_overrides(tmp_path: Path) -> None:
    proc = dlzoo("train", "mlp_classifier", "--runs", str(tmp_path), "--name", "x", "--resume")
    assert proc.returncode == 2 and "has no run to resume" in proc.stderr


def test_sample_writes_2d_points_as_a_scatter_plot_and_an_array(tmp_path: Path) -> None:
    proc = dlzoo("train", "gan", "--preset", "tiny", "--runs", str(tmp_path), "--name", "g", "train.epochs=1")
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "gan" / "g"
    proc = dlzoo("sample", str(run), "--n", "50", "--out", str(tmp_path / "points.npy"))
    assert proc.returncode == 0, proc.stderr
    import numpy as np

    assert np.load(tmp_path / "points.npy").shape == (50, 2)
    proc = dlzoo("sample", str(run), "--n", "50", "--out", str(tmp_path / "points.png"))
    assert proc.returncode == 0, proc.stderr
    import matplotlib.image

    # a 4.5 x 4.5 inch scatter plot, not a strip of 1 x 1 "images"
    h, w = matplotlib.image.imread(tmp_path / "points.png").shape[:2]
    assert h == w and h > 300


def test_image_grid_refuses_what_is_not_an_image(tmp_path: Path) -> None:
    import torch

    from dlzoo.plots import image_grid

    with pytest.raises(ValueError, match=r"not an image \(save it as .npy instead\)"):
        image_grid(torch.rand(4, 3), tmp_path / "x.png", title="t")


def test_results_page_and_family_table_are_generated_from_the_records(tmp_path: Path) -> None:
    """benchmarks/_table.py on a copy of the repository: RESULTS.md by family, README's table between its markers."""
    import importlib.util
    import shutil

    repo = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("_table", repo / "benchmarks" / "_table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    shutil.copytree(repo / "benchmarks" / "results", tmp_path / "benchmarks" / "results")
    shutil.copy(repo / "README.md", tmp_path / "README.md")
    (tmp_path / "src" / "dlzoo" / "families").mkdir(parents=True)
    table.main(tmp_path)

    records = [json.loads(p.read_text()) for p in (tmp_path / "benchmarks" / "results").glob("*.json")]
    page = (tmp_path / "benchmarks" / "RESULTS.md").read_text()
    assert {f"## {r['family']}" for r in records} <= set(page.splitlines())
    rows = [line for line in page.splitlines() if line.startswith("| ") and not line.startswith("| model")]
    older = [line for line in page.splitlines() if line.startswith("- [")]
    assert len(rows) + len(older) == len(records)  # every record is a row, or listed under its newer twin
    assert all(line.count(" | ") == 9 for line in rows)  # ten cells: a '|' inside a text is escaped
    for word in ("issue", "quoted in"):  # sources name papers and repositories, not our tracker
        assert word not in page.lower()

    readme = (tmp_path / "README.md").read_text()
    inside = readme.split(table.BEGIN)[1].split(table.END)[0]
    from dlzoo.registry import families

    assert inside.count("\n| [") == len(families()) and "**0.9869** ± 0.00025 (3)" in inside
    assert readme.split(table.BEGIN)[0] == (repo / "README.md").read_text().split(table.BEGIN)[0]
