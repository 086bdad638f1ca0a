"""Serving a bare ONNX file (a folder with serving.yaml): onnxruntime answers /predict, PyTorch does not.

The ONNX files are PyTorch exports (``export_run`` of a tiny trained run, ``export_model`` of small
modules), so these tests need no TensorFlow; the Keras export is served in
tutorials/tensorflow/serve_onnx.py.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.export import export_model, export_run  # noqa: E402
from dlzoo.runs import RunError  # noqa: E402
from dlzoo.serve import create_app  # noqa: E402
from dlzoo.serve.onnx_runs import load_onnx_run, write_serving  # noqa: E402

DIGITS = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def served_root(train_tiny, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs/: the PyTorch run itself, its ONNX export served bare, and three broken serving.yaml folders."""
    run = train_tiny("mlp_classifier", "train.epochs=5")
    export_run(run, fmt="onnx")
    root = tmp_path_factory.mktemp("onnx-served")
    shutil.copytree(run, root / "mlp_classifier" / "torch")
    bare = root / "digits_onnx" / "v1"
    bare.mkdir(parents=True)
    shutil.copy(run / "export" / "model.onnx", bare / "model.onnx")
    write_serving(
        bare,
        name="digits_onnx",
        task="classify",
        input_shape=[64],
        class_names=DIGITS,
        input_range=[0.0, 16.0],
        data="digits",
        metrics={"test/accuracy": 0.5},
        description="the tiny mlp_classifier, exported",
    )
    # a graph that ends in softmax, and a regressor: both exported from small torch modules
    torch.manual_seed(0)
    probs = root / "probs" / "v1"
    export_model(
        nn.Sequential(nn.Linear(3, 4), nn.Softmax(-1)).eval(), torch.randn(2, 3), probs / "model.onnx", fmt="onnx"
    )
    write_serving(probs, name="probs", task="classify", input_shape=[3], outputs="probabilities")
    reg = root / "reg" / "v1"
    export_model(nn.Linear(2 * 3, 1).eval(), torch.randn(2, 2 * 3), reg / "export" / "model.onnx", fmt="onnx")
    (reg / "serving.yaml").write_text("name: reg\ntask: regress\ninput_shape: [6]\n")
    # broken: a shape the graph does not take, an unknown key, no ONNX file
    for name, text in {
        "wrong_shape": "name: w\ntask: classify\ninput_shape: [8, 8]\n",
        "typo": "name: t\ntask: classify\ninput_shape: [64]\nclassnames: [a]\n",
    }.items():
        (root / name).mkdir()
        shutil.copy(bare / "model.onnx", root / name / "model.onnx")
        (root / name / "serving.yaml").write_text(text)
    (root / "no_file").mkdir()
    (root / "no_file" / "serving.yaml").write_text("name: n\ntask: classify\ninput_shape: [64]\n")
    return root


@pytest.fixture(scope="module")
def client(served_root: Path):
    with TestClient(create_app(served_root)) as c:
        yield c


def test_listed_with_its_serving_yaml_and_broken_folders_skipped(client: TestClient) -> None:
    listing = client.get("/v1/models").json()
    info = {m["name"]: m for m in listing["models"]}
    assert set(info) == {"mlp_classifier", "digits_onnx", "probs", "reg"}
    d = info["digits_onnx"]
    assert d["aliases"] == ["digits_onnx@v1", "digits_onnx"] and d["run"] == "v1"
    assert (d["family"], d["paradigm"], d["task"]) == ("onnx", "exported", "classify")
    assert d["input_shape"] == [64] and d["class_names"] == DIGITS and d["data"] == "digits"
    assert d["metrics"] == {"test/accuracy": 0.5} and d["verbs"] == ["predict"]
    assert d["description"] == "the tiny mlp_classifier, exported"
    skipped = {s["path"]: s["error"] for s in listing["skipped"]}
    assert set(skipped) == {"wrong_shape", "typo", "no_file"}
    assert "serving.yaml says (batch, *[8, 8])" in skipped["wrong_shape"]
    assert "unknown key(s) ['classnames']" in skipped["typo"]
    assert "no ONNX file" in skipped["no_file"]


def test_predictions_equal_the_pytorch_run_without_torch_in_the_request_path(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = load_dataset("digits").test.x[:50].tolist()
    torch_out = client.post("/v1/models/mlp_classifier/predict", json={"inputs": x}).json()

    def no_torch(*args: object, **kwargs: object) -> None:
        raise AssertionError("PyTorch used in the ONNX request path")

    for name in ("as_tensor", "cat", "from_numpy", "tensor"):
        monkeypatch.setattr(torch, name, no_torch)
    out = client.post("/v1/models/digits_onnx/predict", json={"inputs": x}).json()
    assert out["model"] == "digits_onnx@v1"
    assert out["labels"] == torch_out["labels"]
    assert out["class_names"] == [DIGITS[i] for i in out["labels"]]
    np.testing.assert_allclose(out["probabilities"], torch_out["probabilities"], atol=1e-5)
    one = client.post("/v1/models/digits_onnx@v1/predict", json={"inputs": x[0]}).json()
    assert one["labels"] == out["labels"][:1]


def test_softmax_graphs_and_regressors(client: TestClient, served_root: Path) -> None:
    import onnxruntime as ort

    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    ref = ort.InferenceSession(str(served_root / "probs" / "v1" / "model.onnx")).run(None, {"input": x})[0]
    out = client.post("/v1/models/probs/predict", json={"inputs": x.tolist()}).json()
    np.testing.assert_allclose(out["probabilities"], ref, atol=1e-6)  # not softmaxed twice
    assert out["labels"] == ref.argmax(-1).tolist() and "class_names" not in out
    # a flattened (batch, 6) regressor answers predictions, one per example
    x = np.random.default_rng(1).normal(size=(3, 6)).astype(np.float32)
    ref = ort.InferenceSession(str(served_root / "reg" / "v1" / "export" / "model.onnx")).run(None, {"input": x})[0]
    out = client.post("/v1/models/reg/predict", json={"inputs": x.tolist()}).json()
    np.testing.assert_allclose(out["predictions"], ref[:, 0], atol=1e-6)


@pytest.mark.parametrize(
    ("inputs", "detail"),
    [
        ([[1.0, 2.0]], "expected inputs of shape (batch, 64) or (64), got (1, 2)"),
        ([[20.0] * 64], "inputs must lie in [0, 16] like the training data, got values in [20, 20]"),
        ([[1e39] * 64], "inputs contain NaN or infinity"),
        ([], "empty batch"),
        ([[0.0] * 64, [0.0] * 63], "inputs must be numbers in nested lists of shape (batch, 64)"),
    ],
)
def test_bad_inputs_are_422_with_what_was_expected(client: TestClient, inputs: list, detail: str) -> None:
    r = client.post("/v1/models/digits_onnx/predict", json={"inputs": inputs})
    assert r.status_code == 422 and detail in r.json()["detail"], r.text


def test_other_verbs_are_400(client: TestClient) -> None:
    r = client.post("/v1/models/digits_onnx/sample", json={"n": 2})
    assert r.status_code == 400 and "serves: predict" in r.json()["detail"]


def test_concurrent_requests_each_get_their_own_rows(client: TestClient) -> None:
    x = load_dataset("digits").test.x[:16].tolist()
    whole = client.post("/v1/models/digits_onnx/predict", json={"inputs": x}).json()["labels"]
    got: dict[int, list[int]] = {}

    def ask(i: int) -> None:
        got[i] = client.post("/v1/models/digits_onnx/predict", json={"inputs": x[i : i + 2]}).json()["labels"]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(0, 16, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [label for i in sorted(got) for label in got[i]] == whole


def test_load_onnx_run_reports_a_bad_serving_yaml(tmp_path: Path, served_root: Path) -> None:
    shutil.copy(served_root / "digits_onnx" / "v1" / "model.onnx", tmp_path / "model.onnx")
    (tmp_path / "serving.yaml").write_text("name: x\ntask: generate\ninput_shape: [64]\n")
    with pytest.raises(RunError, match="task must be one of classify, regress, got 'generate'"):
        load_onnx_run(tmp_path)
    (tmp_path / "serving.yaml").write_text("name: x\ntask: classify\n")
    with pytest.raises(RunError, match="missing input_shape"):
        load_onnx_run(tmp_path)


def test_a_run_is_served_through_its_own_export_when_asked(train_tiny, tmp_path: Path) -> None:
    """--runtime onnx: the run keeps its name and metrics, onnxruntime answers predict with PyTorch's
    numbers; a run exported before newer weights, or never exported, stays on PyTorch."""
    from dlzoo.serve.settings import ServeSettings

    run = train_tiny("mlp_classifier", "train.epochs=5")
    root = tmp_path / "runs"
    shutil.copytree(run, root / "mlp_classifier" / "exported")
    export_run(root / "mlp_classifier" / "exported", fmt="onnx")
    shutil.copytree(run, root / "mlp_classifier" / "plain")
    shutil.rmtree(root / "mlp_classifier" / "plain" / "export", ignore_errors=True)
    x = load_dataset("digits").test.x[:5]

    answers = {}
    for runtime in ("pytorch", "onnx", "fastest"):
        with TestClient(create_app(settings=ServeSettings(runs=str(root), runtime=runtime))) as client:
            info = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
            assert info["mlp_classifier@plain"]["runtime"] == "pytorch"
            allowed = {"pytorch": {"pytorch"}, "onnx": {"onnxruntime"}, "fastest": {"pytorch", "onnxruntime"}}
            assert info["mlp_classifier@exported"]["runtime"] in allowed[runtime]
            assert info["mlp_classifier@exported"]["metrics"]["test/accuracy"] > 0.5
            r = client.post("/v1/models/mlp_classifier@exported/predict", json={"inputs": x.tolist()})
            assert r.status_code == 200, r.text
            answers[runtime] = r.json()
    assert answers["onnx"]["labels"] == answers["pytorch"]["labels"]
    np.testing.assert_allclose(answers["onnx"]["probabilities"], answers["pytorch"]["probabilities"], atol=1e-4)
    with pytest.raises(ValueError, match="runtime must be one of pytorch, onnx, fastest"):
        ServeSettings(runtime="tensorrt")
