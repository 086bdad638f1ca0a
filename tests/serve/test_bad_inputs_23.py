"""Inputs that used to crash the server (500) or come back as a 200 with nulls: each is now a 4xx that
says what was expected, and the server keeps answering good requests afterwards.

Runs are tiny presets trained once per session (``train_tiny``) and copied into one folder.
"""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from dlzoo.serve import create_app

JSON = {"content-type": "application/json"}

GOOD = {
    "mlp_classifier": ("predict", {"inputs": [[0.0] * 64]}),
    "mlp_regressor": ("predict", None),  # filled from the model's input shape
    "gcn": ("predict", {"nodes": [0, 1]}),
    "gin": ("predict", {"graphs": [{"features": None, "edges": [[0, 1]]}]}),
    "gpt": ("sample", {"prompt": "\n", "max_new_tokens": 4}),
}


@pytest.fixture(scope="module")
def client(train_tiny, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("bad23")
    for model, overrides in [
        ("mlp_classifier", ("train.epochs=2",)),
        ("mlp_regressor", ()),
        ("gcn", ()),
        ("gin", ()),
        ("gpt", ()),
    ]:
        run = train_tiny(model, *overrides)
        shutil.copytree(run, root / model / "r")
    with TestClient(create_app(root), raise_server_exceptions=False) as c:
        yield c


def _width(client: TestClient, model: str) -> int:
    return client.get(f"/v1/models/{model}").json()["input_shape"][0]


def _good(client: TestClient, model: str) -> tuple[str, dict]:
    verb, body = GOOD[model]
    if model == "mlp_regressor":
        body = {"inputs": [[0.0] * _width(client, model)]}
    if model == "gin":
        body = {"graphs": [{"features": [[0.5] * _width(client, model)] * 2, "edges": [[0, 1]]}]}
    return verb, body


def _still_serves(client: TestClient, model: str) -> None:
    verb, body = _good(client, model)
    r = client.post(f"/v1/models/{model}/{verb}", json=body)
    assert r.status_code == 200, r.text


def test_deeply_nested_body_with_nan_string_is_a_4xx(client: TestClient) -> None:
    depth = 100_000
    body = ("[" * depth + '"NaN"' + "]" * depth).encode()
    for wrapped in (body, b'{"inputs": ' + body + b"}"):
        r = client.post("/v1/models/mlp_classifier/predict", content=wrapped, headers=JSON)
        assert r.status_code == 422, r.text
        assert "nested" in r.json()["detail"], r.text
    _still_serves(client, "mlp_classifier")


def test_deeply_nested_body_without_nan_is_a_4xx(client: TestClient) -> None:
    depth = 100_000
    body = b'{"inputs": ' + b"[" * depth + b"1" + b"]" * depth + b"}"
    r = client.post("/v1/models/mlp_classifier/predict", content=body, headers=JSON)
    assert 400 <= r.status_code < 500, r.text
    _still_serves(client, "mlp_classifier")


@pytest.mark.parametrize("temperature", [1e-300, 1e-40, 5e-324])
def test_gpt_tiny_temperature_is_a_422(client: TestClient, temperature: float) -> None:
    r = client.post("/v1/models/gpt/sample", json={"prompt": "\n", "max_new_tokens": 4, "temperature": temperature})
    assert r.status_code == 422, r.text
    assert "temperature" in r.json()["detail"], r.text
    _still_serves(client, "gpt")


def test_gpt_greedy_and_small_temperatures_still_answer(client: TestClient) -> None:
    for t in (0, 0.01, 1.0):
        r = client.post("/v1/models/gpt/sample", json={"prompt": "\n", "max_new_tokens": 4, "temperature": t})
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("node", [10**30, -(10**30), 2**63, -(2**63) - 1])
def test_gcn_node_id_beyond_int64_is_a_422(client: TestClient, node: int) -> None:
    r = client.post("/v1/models/gcn/predict", json={"nodes": [0, node]})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert f"nodes[1]: node id {node} out of range" in detail and "ids 0.." in detail, detail
    _still_serves(client, "gcn")


def test_gin_huge_features_are_a_422(client: TestClient) -> None:
    w = _width(client, "gin")
    body = {"graphs": [{"features": [[3e38] * w, [3e38] * w], "edges": [[0, 1]]}]}
    r = client.post("/v1/models/gin/predict", json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "output is not finite" in detail and "3e+38" in detail, detail
    _still_serves(client, "gin")


@pytest.mark.parametrize("edge", [[0, 10**30], [-(10**30), 1], [0, 2**63]])
def test_gin_edge_id_beyond_int64_is_a_422(client: TestClient, edge: list[int]) -> None:
    w = _width(client, "gin")
    body = {"graphs": [{"features": [[0.5] * w] * 2, "edges": [[0, 1], edge]}]}
    r = client.post("/v1/models/gin/predict", json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert f"graphs[0].edges: node id {max(edge, key=abs)} out of range" in detail and "2 nodes" in detail, detail
    _still_serves(client, "gin")


@pytest.mark.parametrize("model", ["mlp_classifier", "mlp_regressor"])
@pytest.mark.parametrize("value", [1e37, 3e38, -3e38])
def test_overflowing_forward_is_a_422_not_null(client: TestClient, model: str, value: float) -> None:
    w = _width(client, model)
    r = client.post(f"/v1/models/{model}/predict", json={"inputs": [[value] * w]})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "the model's output is not finite for these inputs" in detail, detail
    assert f"up to {abs(value):.3g}" in detail, detail
    _still_serves(client, model)


def test_overflow_in_one_request_does_not_fail_the_batch(client: TestClient) -> None:
    """A batch mixing a good and an overflowing example: the request fails as a whole (422), and a
    good request batched with it is answered."""
    w = _width(client, "mlp_regressor")
    r = client.post("/v1/models/mlp_regressor/predict", json={"inputs": [[0.0] * w, [3e38] * w]})
    assert r.status_code == 422, r.text
    assert "inputs[1]" in r.json()["detail"], r.text
    _still_serves(client, "mlp_regressor")


def test_an_overflowing_request_batched_with_good_ones_fails_alone(train_tiny, tmp_path) -> None:
    import asyncio

    import httpx

    shutil.copytree(train_tiny("mlp_regressor"), tmp_path / "mlp_regressor" / "r")
    app = create_app(tmp_path, max_batch=64, max_wait_ms=200)  # a wide window: the requests share one batch
    bodies = [{"inputs": [[0.5] * 0]}]  # replaced below once the width is known

    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            w = (await client.get("/v1/models/mlp_regressor")).json()["input_shape"][0]
            bodies[:] = [
                {"inputs": [[0.5] * w, [0.25] * w]},
                {"inputs": [[1.0] * w, [3e38] * w, [-2e38] * w]},
                {"inputs": [[0.0] * w]},
            ]
            return await asyncio.gather(*(client.post("/v1/models/mlp_regressor/predict", json=b) for b in bodies))

    try:
        good1, bad, good2 = asyncio.run(main())
    finally:
        app.state.models.close()
    stats = app.state.models.runs["mlp_regressor@r"].batchers["predict"].stats
    assert stats.largest > 1, stats  # the good requests were answered by a shared forward pass
    assert bad.status_code == 422 and "inputs[1, 2]: the model's output is not finite" in bad.json()["detail"]
    assert "up to 3e+38" in bad.json()["detail"], bad.text
    assert good1.status_code == 200 and len(good1.json()["predictions"]) == 2, good1.text
    assert good2.status_code == 200 and len(good2.json()["predictions"]) == 1, good2.text
