"""Serving conveniences: the start-up lines, runs trained after the start (POST /v1/reload and the
versioned model list), and 422 messages that name the body a verb expects.

Runs are tiny presets trained once per session (``train_tiny``) and copied into a fresh folder per
test, so each test controls what the server sees.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dlzoo.serve import create_app

JSON = {"content-type": "application/json"}
SCHEMA_CLASSES = ("NodesRequest", "GraphsRequest", "PairsRequest", "GraphIn", "InputsRequest", "SampleRequest")


def _copy(run: Path, root: Path, name: str, *, mtime: float | None = None) -> Path:
    """A copy of a trained run under root/<model>/<name> (what training it again would leave)."""
    dest = root / run.parent.name / name
    shutil.copytree(run, dest)
    if mtime is not None:
        os.utime(dest / "model.safetensors", (mtime, mtime))
    return dest


@pytest.fixture()
def mlp(train_tiny) -> Path:
    return train_tiny("mlp_classifier", "train.epochs=2")


# -- start-up lines -----------------------------------------------------------------------------


def test_start_lists_each_served_run_with_its_verbs_and_each_skipped_run_with_the_reason(
    mlp: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _copy(mlp, tmp_path, "a")
    broken = _copy(mlp, tmp_path, "broken")
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with caplog.at_level(logging.INFO, logger="dlzoo.serve"):
        create_app(tmp_path)
    lines = [r.getMessage() for r in caplog.records if r.name == "dlzoo.serve"]
    assert "serving mlp_classifier@a (also as mlp_classifier): predict" in lines
    skipped = [ln for ln in lines if ln.startswith("skipped mlp_classifier/broken: ")]
    assert len(skipped) == 1 and "RunError" in skipped[0] and "damaged" in skipped[0], lines
    assert any(ln.startswith("version 1: serving 1 run(s)") and ln.endswith("skipped 1") for ln in lines)


# -- runs trained after the start -----------------------------------------------------------------


def test_reload_serves_runs_trained_after_the_start_and_versions_the_list(mlp: Path, tmp_path: Path) -> None:
    _copy(mlp, tmp_path, "first", mtime=1_000_000)
    with TestClient(create_app(tmp_path)) as client:
        listing = client.get("/v1/models").json()
        v0 = listing["version"]
        assert [m["name"] for m in listing["models"]] == ["mlp_classifier"]

        # nothing new: the list and its version stay
        r = client.post("/v1/reload")
        unchanged = {"version": v0, "added": [], "reloaded": [], "removed": [], "skipped": 0}
        assert r.status_code == 200 and r.json() == unchanged

        # a run trained after the start is unknown until the reload, then served and the latest
        _copy(mlp, tmp_path, "second", mtime=2_000_000)
        r = client.post("/v1/models/mlp_classifier@second/predict", json={"inputs": [0.0] * 64})
        assert r.status_code == 404 and "POST /v1/reload" in r.json()["detail"]
        r = client.post("/v1/reload").json()
        assert r["version"] == v0 + 1 and r["added"] == ["mlp_classifier@second"] and r["removed"] == []
        listing = client.get("/v1/models").json()
        assert listing["version"] == v0 + 1
        assert sorted(m["name"] for m in listing["models"]) == ["mlp_classifier@first", "mlp_classifier@second"]
        out = client.post("/v1/models/mlp_classifier/predict", json={"inputs": [0.0] * 64}).json()
        assert out["model"] == "mlp_classifier@second"  # <model> now resolves to the new run

        # a run whose folder is gone stops being served
        shutil.rmtree(tmp_path / "mlp_classifier" / "second")
        r = client.post("/v1/reload").json()
        assert r["version"] == v0 + 2 and r["removed"] == ["mlp_classifier@second"]
        assert client.post("/v1/models/mlp_classifier/predict", json={"inputs": [0.0] * 64}).json()["model"] == (
            "mlp_classifier@first"
        )


def test_reload_keeps_loaded_models_and_reloads_retrained_ones(mlp: Path, tmp_path: Path) -> None:
    run = _copy(mlp, tmp_path, "a", mtime=1_000_000)
    app = create_app(tmp_path)
    table = app.state.models
    before = table.runs["mlp_classifier@a"]
    assert table.reload()["added"] == [] and table.runs["mlp_classifier@a"] is before  # not loaded again
    os.utime(run / "model.safetensors", (3_000_000, 3_000_000))  # the run was trained again in place
    v0, changed = table.version, table.reload()
    assert changed["version"] == v0 + 1
    assert changed["reloaded"] == ["mlp_classifier@a"] and changed["added"] == changed["removed"] == []
    assert table.runs["mlp_classifier@a"] is not before


def test_a_run_that_breaks_after_the_start_is_listed_as_skipped_after_reload(mlp: Path, tmp_path: Path) -> None:
    _copy(mlp, tmp_path, "a", mtime=1_000_000)
    with TestClient(create_app(tmp_path)) as client:
        v0 = client.get("/v1/models").json()["version"]
        (tmp_path / "mlp_classifier" / "half").mkdir()
        (tmp_path / "mlp_classifier" / "half" / "config.yaml").write_text("model: {name: mlp_classifier}\n")
        assert client.post("/v1/reload").json()["skipped"] == 1
        listing = client.get("/v1/models").json()
        assert listing["version"] == v0 + 1
        half = {"path": "mlp_classifier/half", "error": "not finished: no model.safetensors yet"}
        assert listing["skipped"] == [half]


# -- 422 messages name the expected body ----------------------------------------------------------


@pytest.fixture()
def graphs_client(train_tiny, tmp_path: Path):
    _copy(train_tiny("gcn"), tmp_path, "n")
    _copy(train_tiny("gin"), tmp_path, "g")
    _copy(train_tiny("mlp_classifier", "train.epochs=2"), tmp_path, "m")
    with TestClient(create_app(tmp_path)) as client:
        yield client


@pytest.mark.parametrize(
    ("model", "body", "problem"),
    [
        ("gcn", '{"node": [0]}', "nodes: Field required"),
        ("gcn", "[0, 1]", "request body must be a JSON object"),
        ("gcn", '{"nodes": "0"}', "nodes: Input should be a valid list"),
        ("gin", '{"graphs": [5]}', "graphs.0: Input should be a JSON object, got 5"),
        ("gin", '{"graphs": [{"edges": [[0, 1]]}]}', "graphs.0.features: Field required"),
    ],
)
def test_422_names_the_fields_and_an_example_of_the_body(graphs_client: TestClient, model, body, problem) -> None:
    r = graphs_client.post(f"/v1/models/{model}/predict", content=body.encode(), headers=JSON)
    detail = r.json()["detail"]
    assert r.status_code == 422 and problem in detail, detail
    if model == "gcn":
        assert 'expected a JSON object with nodes (required), graph (default null), e.g. {"nodes": [0, 1, 2]}' in detail
    else:
        assert "expected a JSON object with graphs (required), e.g. " in detail
        assert '{"graphs": [{"features": [[1, 0], [0, 1], [1, 0]], "edges": [[0, 1], [1, 2]]}]}' in detail
    assert not any(name in detail for name in SCHEMA_CLASSES), detail


def test_422_without_the_json_content_type_says_so_and_names_the_body(graphs_client: TestClient) -> None:
    # what `curl -d '{"nodes": [0, 1]}'` sends: curl's default form content type
    r = graphs_client.post(
        "/v1/models/gcn/predict",
        content=b'{"nodes": [0, 1]}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    detail = r.json()["detail"]
    assert r.status_code == 422 and "Content-Type: application/json" in detail
    assert '{"nodes": [0, 1, 2]}' in detail


def test_422_for_a_tensor_verb_names_the_input_shape(graphs_client: TestClient) -> None:
    r = graphs_client.post("/v1/models/mlp_classifier/predict", json={"input": [1.0]})
    detail = r.json()["detail"]
    assert r.status_code == 422 and "input: unknown field" in detail
    assert "expected a JSON object with inputs (required: numbers of shape (batch, 64) or (64))" in detail
    assert '{"inputs": [[0.0, 0.0, 0.0, ... (64 items)]]}' in detail
    assert not any(name in detail for name in SCHEMA_CLASSES), detail
