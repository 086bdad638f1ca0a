"""The `dlzoo` command in subprocesses, as a user runs it: clear one-line errors, a full pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


def dlzoo(
    *args: str, cwd: Path | None = None, stdin: str | None = None, timeout: int = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "DLZOO_OFFLINE": "1", "COLUMNS": "200", **(env or {})}
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
        (["train", "mlp_classifier", "train.threads=0"], "train.threads: Value error, expected auto or a whole number"),
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


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["trian"], "No such command 'trian'"),
        (["train"], "Missing argument 'name'"),
        (["train", "mlp_classifier", "--epochs", "3"], "No such option: --epochs"),
    ],
)
def test_a_usage_error_is_clicks_message_and_the_usage_line(args: list[str], needle: str) -> None:
    proc = dlzoo(*args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert needle in proc.stderr and proc.stderr.startswith("Usage: "), proc.stderr
    assert proc.stdout == ""


def test_list_and_info() -> None:
    from dlzoo.registry import list_models

    proc = dlzoo("list", env={"COLUMNS": "80"})
    assert proc.returncode == 0 and "mlp_classifier" in proc.stdout
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["model", "family", "paradigm", "presets"]
    assert all(len(line) <= 80 for line in lines)
    assert len(lines) < 1.5 * len(list_models())  # one line a model (long preset lists wrap once)
    mlp = next(line for line in lines if line.startswith("mlp_classifier "))
    assert mlp.split()[:4] == ["mlp_classifier", "mlp", "supervised", "tiny,"] and "standardized" not in proc.stdout
    long = dlzoo("list", "--long", "--family", "mlp", env={"COLUMNS": "80"}).stdout
    assert "    MLP classifier: standardized features" in long
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
    head, *rows = [json.loads(line) for line in proc.stdout.splitlines()]  # JSON lines: the class list, then examples
    assert head == {"class_names": [str(i) for i in range(10)]}
    assert len(rows) == 3 and all(set(r) == {"label", "class_name", "probabilities"} for r in rows)
    assert all(abs(sum(r["probabilities"]) - 1) < 1e-5 and r["class_name"] == str(r["label"]) for r in rows)

    config = yaml.safe_load((run / "config.yaml").read_text())  # train.threads=auto, and the count it chose
    assert config["train"]["threads"] == "auto" and config["info"]["threads"]["count"] == 1
    assert saved["hardware"]["threads_setting"] == "auto" and saved["hardware"]["torch_threads"] == 1

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
    page, _, speed = page.partition("## Inference speed")  # inference_speed records: one table of their own
    speed, _, precision = speed.partition("## Training precision")  # and precision_table records: another

    def table_rows(text: str, header: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith(header)]

    speed_records = [r for r in records if r["benchmark"] == "inference_speed"]
    speed_rows = table_rows(speed, "| model")
    assert len(speed_rows) == len({(r["model"], r["config"].get("preset")) for r in speed_records})
    assert all(line.count(" | ") == 7 for line in speed_rows)  # model, preset, params, 4 runtimes, hardware
    precision_records = [r for r in records if r["benchmark"] == "precision_table"]
    precision_rows = table_rows(precision, "| family")
    # one row per (family, machine): a machine's record never replaces another machine's
    assert len(precision_rows) == len({(r["family"], r["hardware"]["cpu"]) for r in precision_records})
    assert all(line.count(" | ") == 8 for line in precision_rows)  # nine cells
    rows = table_rows(page, "| model")
    older = [line for line in page.splitlines() if line.startswith("- [")]
    # every record is a row, or listed under its newer twin
    assert len(rows) + len(older) == len(records) - len(speed_records) - len(precision_records)
    assert all(line.count(" | ") == 9 for line in rows)  # ten cells: a '|' inside a text is escaped
    for word in ("issue", "quoted in"):  # sources name papers and repositories, not our tracker
        assert word not in page.lower()

    readme = (tmp_path / "README.md").read_text()
    inside = readme.split(table.BEGIN)[1].split(table.END)[0]
    from dlzoo.registry import families

    assert inside.count("\n| [") == len(families()) and "**0.9869** ± 0.00025 (3)" in inside
    assert readme.split(table.BEGIN)[0] == (repo / "README.md").read_text().split(table.BEGIN)[0]


def test_progress_in_a_pipe_is_one_plain_line_per_evaluation(tmp_path: Path) -> None:
    proc = dlzoo(
        "train", "mlp_classifier", "--preset", "tiny", "--runs", str(tmp_path), "train.epochs=4", "train.eval_every=2"
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert [line.split()[2:4] for line in lines] == [["4", "round(s)"], ["round", "2/4"], ["round", "4/4"]], lines
    assert all(line.startswith("mlp_classifier 00:00:") for line in lines) and "\x1b" not in proc.stderr
    assert proc.stdout.startswith("done ") and "test/accuracy=" in proc.stdout


def test_the_bar_fits_an_80_column_terminal() -> None:
    """On a terminal (a pty here) the bar keeps the count and the time whole; the metrics are cut to fit."""
    import pty
    import re

    code = (
        "from dlzoo.training.logger import progress_bar\n"
        "with progress_bar(enabled=True, total=200, done=0, title='transformer_classifier') as bar:\n"
        "    for r in range(200):\n"
        "        bar.describe({'val/loss': 2.34567, 'val/accuracy': 0.91234, 'val/nll': 1.2})\n"
        "        bar.advance()\n"
    )
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm"}
    proc = subprocess.run([sys.executable, "-c", code], stderr=follower, env=env, timeout=60)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the pty closed
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.returncode == 0
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.decode())
    lines = [line for line in re.split(r"[\r\n]+", text) if line.strip()]
    assert lines and all(len(line) <= 80 for line in lines), lines
    assert "200/200 0:00:0" in lines[-1] and lines[-1].rstrip().endswith("…"), lines[-1]


def test_threads_auto_is_one_thread_for_a_small_step_else_the_free_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from dlzoo.training import threads

    assert 0 <= threads.idle_cores(sample_s=0.05) <= threads.usable_cores() + 1e-9
    assert threads.choose_threads(3, n_params=10**9, batch_size=128)[0] == 3
    assert threads.choose_threads("auto", n_params=20_000, batch_size=64)[0] == 1
    monkeypatch.setattr(threads, "idle_cores", lambda: 1.9)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(4)
        assert threads.choose_threads("auto", n_params=10**6, batch_size=128)[0] == 2  # two free cores
        assert threads.choose_threads("auto", n_params=10**6, batch_size=128, local_processes=2)[0] == 1
        torch.set_num_threads(1)  # never more than the process allowed (OMP_NUM_THREADS, set_num_threads)
        assert threads.choose_threads("auto", n_params=10**6, batch_size=128)[0] == 1
    finally:
        torch.set_num_threads(before)


def test_ctrl_c_says_how_to_resume(tmp_path: Path) -> None:
    import signal
    import time

    run = tmp_path / "mlp_classifier" / "r"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlzoo", "train", "mlp_classifier", "--preset", "tiny", "--runs", str(tmp_path)]
        + ["--name", "r", "train.epochs=100000", "train.progress=false"],
        env={**os.environ, "DLZOO_OFFLINE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (run / "checkpoints" / "last.ckpt").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    resume = f"dlzoo train mlp_classifier --resume --name r --runs {tmp_path}"
    assert stderr.strip() == f"interrupted; resume with `{resume}`", stderr


def test_the_task_help_names_every_registered_task() -> None:
    import inspect

    from dlzoo import cli
    from dlzoo.registry import TASKS
    from dlzoo.serve.schemas import ModelInfo

    option = inspect.signature(cli.list_cmd).parameters["task"].default
    assert option.help.split(" | ") == list(TASKS)
    assert ModelInfo.model_fields["task"].description.split(" | ") == list(TASKS)
