"""The HTTP API through its test client: every verb, every kind of bad input, micro-batching.

Runs are trained once per session into a temporary folder (tiny presets, shortened further), next
to three broken run directories that the server must list under "skipped" and survive.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fastapi.testclient import TestClient

from dlzoo import inference
from dlzoo.config import resolve_config
from dlzoo.data import load_dataset
from dlzoo.registry import list_models
from dlzoo.runs import RunDir, RunError, load_run
from dlzoo.serve import create_app

JSON = {"content-type": "application/json"}
# families written in parallel: their tests skip until the model is registered, then must pass
OPTIONAL = {
    "vae_mlp": ["train.epochs=2", "task.eval_iw_samples=0"],
    "dqn": [
        "task.total_steps=400",
        "task.eval_every_steps=400",
        "task.eval_episodes=1",
        "task.final_eval_episodes=1",
        "task.learning_starts=100",
    ],
}


def _train(root: Path, model: str, name: str, overrides: list[str]) -> Path:
    from dlzoo.training.loop import train_run  # the tests train; the server under test never imports train

    run = RunDir.create(root, model, name)
    train_run(resolve_config(model, preset="tiny", overrides=["train.progress=false", *overrides]), run)
    return run.path


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    old = _train(root, "mlp_classifier", "old", ["train.epochs=2", "train.seed=1"])
    new = _train(root, "mlp_classifier", "new", ["train.epochs=8"])
    os.utime(old / "model.safetensors", (1_000_000, 1_000_000))  # "new" is unambiguously the latest
    _train(root, "mlp_regressor", "r1", ["train.epochs=3"])
    failures = {}
    for model, overrides in OPTIONAL.items():
        if model in list_models():
            try:
                _train(root, model, "t", overrides)
            except Exception as e:  # reported by that model's tests, not by every test here
                failures[model] = f"{type(e).__name__}: {e}"
    # three broken runs: corrupt weights, an unregistered model, a run that never finished
    broken = root / "mlp_classifier" / "corrupt"
    broken.mkdir()
    (broken / "config.yaml").write_text((new / "config.yaml").read_text())
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    ghost = root / "no_such_model" / "g"
    ghost.mkdir(parents=True)
    (ghost / "config.yaml").write_text((new / "config.yaml").read_text().replace("mlp_classifier", "no_such_model"))
    (ghost / "model.safetensors").write_bytes((new / "model.safetensors").read_bytes())
    unfinished = root / "mlp_regressor" / "running"
    unfinished.mkdir()
    (unfinished / "config.yaml").write_text("model: {name: mlp_regressor}\n")
    (root / "failures.json").write_text(json.dumps(failures))
    return root


@pytest.fixture(scope="session")
def client(runs_root: Path):
    with TestClient(create_app(runs_root)) as c:
        yield c


def _need(runs_root: Path, model: str) -> None:
    if model not in list_models():
        pytest.skip(f"{model} is not registered yet")
    failure = json.loads((runs_root / "failures.json").read_text()).get(model)
    if failure:
        pytest.fail(f"training {model} tiny failed: {failure}")


def _post(client: TestClient, path: str, body: bytes | str) -> tuple[int, str]:
    r = client.post(path, content=body.encode() if isinstance(body, str) else body, headers=JSON)
    return r.status_code, r.json()["detail"]


def _digits_test(n: int) -> tuple[list[list[float]], list[int]]:
    test = load_dataset("digits").test
    return test.x[:n].tolist(), test.y[:n].tolist()


# -- listing ------------------------------------------------------------------------------------


def test_healthz_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    for verb in ("predict", "sample", "reconstruct", "act"):
        assert f"/v1/models/{{name}}/{verb}" in spec["paths"]
    schemas = spec["components"]["schemas"]
    assert schemas["InputsRequest"]["required"] == ["inputs"]
    assert {"labels", "probabilities", "predictions"} <= set(schemas["PredictResponse"]["properties"])


def test_list_models_names_metrics_and_skipped(client: TestClient, runs_root: Path) -> None:
    listing = client.get("/v1/models").json()
    by_alias = {a: m for m in listing["models"] for a in m["aliases"]}
    new, old = by_alias["mlp_classifier@new"], by_alias["mlp_classifier@old"]
    assert new["latest"] and not old["latest"]
    assert by_alias["mlp_classifier"] is new  # <model> resolves to the latest run
    assert new["name"] == "mlp_classifier@new"  # two runs of the model: the short name is ambiguous
    reg = by_alias["mlp_regressor"]
    assert reg["name"] == "mlp_regressor" and reg["verbs"] == ["predict"] and reg["task"] == "regress"
    assert new["input_shape"] == [64] and new["family"] == "mlp" and new["verbs"] == ["predict"]
    eval_json = json.loads((runs_root / "mlp_classifier" / "new" / "eval.json").read_text())
    assert new["metrics"]["test/accuracy"] == pytest.approx(eval_json["test/accuracy"])
    skipped = {s["path"]: s["error"] for s in listing["skipped"]}
    assert set(skipped) >= {"mlp_classifier/corrupt", "no_such_model/g", "mlp_regressor/running"}
    assert "no_such_model" in skipped["no_such_model/g"] and "valid:" in skipped["no_such_model/g"]
    assert "not finished" in skipped["mlp_regressor/running"]
    assert client.get("/healthz").json()["models"] == len(listing["models"])


def test_get_model_by_name_and_alias(client: TestClient) -> None:
    assert client.get("/v1/models/mlp_classifier").json()["run"] == "new"
    assert client.get("/v1/models/mlp_classifier@old").json()["run"] == "old"
    r = client.get("/v1/models/resnet")
    assert r.status_code == 404 and "mlp_regressor" in r.json()["detail"] and "<model>@<run>" in r.json()["detail"]


def test_missing_runs_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="no such folder"):
        create_app(tmp_path / "nope")


# -- predict ------------------------------------------------------------------------------------


def test_predict_classify_is_accurate_and_matches_inference(client: TestClient, runs_root: Path) -> None:
    x, y = _digits_test(120)
    r = client.post("/v1/models/mlp_classifier/predict", json={"inputs": x})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model"] == "mlp_classifier@new"
    accuracy = sum(a == b for a, b in zip(out["labels"], y, strict=True)) / len(y)
    assert accuracy > 0.85  # the trained tiny MLP is > 0.93 on digits; a broken path is ~0.1
    probs = torch.tensor(out["probabilities"])
    assert probs.shape == (120, 10) and torch.allclose(probs.sum(-1), torch.ones(120), atol=1e-5)
    assert out["class_names"] == [str(i) for i in out["labels"]]
    direct = inference.predict(load_run(runs_root / "mlp_classifier" / "new"), x)
    assert out["labels"] == direct["labels"]
    torch.testing.assert_close(probs, torch.tensor(direct["probabilities"]), rtol=1e-5, atol=1e-6)


def test_predict_one_example_and_a_specific_run(client: TestClient) -> None:
    x, _ = _digits_test(1)
    one = client.post("/v1/models/mlp_classifier@old/predict", json={"inputs": x[0]}).json()
    assert one["model"] == "mlp_classifier@old" and len(one["labels"]) == 1 and len(one["probabilities"][0]) == 10


def test_predict_regress(client: TestClient, runs_root: Path) -> None:
    x = load_dataset("diabetes").test.x[:7].tolist()
    out = client.post("/v1/models/mlp_regressor/predict", json={"inputs": x}).json()
    assert set(out) == {"model", "predictions"} and len(out["predictions"]) == 7
    direct = inference.predict(load_run(runs_root / "mlp_regressor" / "r1"), x)["predictions"]
    assert out["predictions"] == pytest.approx(direct, rel=1e-5)


# -- bad requests -------------------------------------------------------------------------------


def test_unknown_model_is_404_with_the_valid_names(client: TestClient) -> None:
    r = client.post("/v1/models/nope/predict", json={"inputs": [0.0] * 64})
    assert r.status_code == 404
    assert "unknown model 'nope'" in r.json()["detail"] and "mlp_classifier@new" in r.json()["detail"]


@pytest.mark.parametrize("verb", ["sample", "reconstruct", "act"])
def test_verb_the_model_does_not_serve_is_400_naming_its_verbs(client: TestClient, verb: str) -> None:
    r = client.post(f"/v1/models/mlp_classifier/{verb}", json={"inputs": [0.0] * 64})
    assert r.status_code == 400
    assert f"does not serve '{verb}'" in r.json()["detail"] and "it serves: predict" in r.json()["detail"]


ROW = "[" + ", ".join(["1.0"] * 64) + "]"


BAD_INPUTS = [
    ('{"inputs": [[1.0, 2.0]]}', "expected inputs of shape (batch, 64) or (64), got (1, 2)"),
    ('{"inputs": [[[1.0]]]}', "expected inputs of shape (batch, 64)"),
    ('{"inputs": []}', "empty batch"),
    (
        '{"inputs": [[1.0, "a"]]}',
        "inputs[0][1]: expected numbers in nested lists of shape (batch, 64) or (64), got 'a'",
    ),
    ('{"inputs": [true, false]}', "inputs[0]: expected numbers"),
    ('{"inputs": [[1.0, null]]}', "inputs[0][1]: expected numbers"),
    ('{"inputs": {"x": 1}}', "expected numbers in nested lists"),
    (f'{{"inputs": [{ROW}, [1.0]]}}', "inputs must be numbers in nested lists"),  # ragged
    ('{"inputs": [[NaN, 1.0]]}', "found the literal NaN"),
    ('{"inputs": [Infinity]}', "found the literal Infinity"),
    ('{"inputs": [-Infinity]}', "found the literal -Infinity"),
    ('{"inputs": [1e400]}', "inputs[0]: expected a finite number, got inf"),
    ('{"inputs": [' + ", ".join(["1e39"] * 64) + "]}", "NaN or infinity"),  # finite in JSON, not in float32
    ('{"inputs": [' + "9" * 400 + "]}", "int too large"),
    ('{"inputs": [[1.0, 2.0]', "request body is not valid JSON"),
    ("[1, 2]", "request body must be a JSON object"),
    ('{"input": [1.0]}', "inputs: required"),
    (f'{{"inputs": {ROW}, "extra": 1}}', "extra: unknown field"),
    ('{"inputs": [' + ", ".join([ROW] * 4097) + "]}", "batch of 4097 examples is over the limit of 4096"),
]


@pytest.mark.parametrize(("body", "expected"), BAD_INPUTS, ids=[e[:40] for _, e in BAD_INPUTS])
def test_bad_inputs_are_422_saying_what_was_expected(client: TestClient, body: str, expected: str) -> None:
    status, detail = _post(client, "/v1/models/mlp_classifier/predict", body)
    assert status == 422
    assert expected in detail


def test_body_without_json_content_type_is_422(client: TestClient) -> None:
    r = client.post("/v1/models/mlp_classifier/predict", content=f'{{"inputs": {ROW}}}')
    assert r.status_code == 422 and "Content-Type: application/json" in r.json()["detail"]


def test_oversized_payload_is_413_by_header_and_by_bytes(runs_root: Path) -> None:
    with TestClient(create_app(runs_root, max_body_bytes=2000)) as small:
        body = json.dumps({"inputs": [[0.5] * 64] * 20}).encode()  # ~5 kB
        r = small.post("/v1/models/mlp_classifier/predict", content=body, headers=JSON)
        assert r.status_code == 413 and "over the limit of 2000 bytes" in r.json()["detail"]
        # no Content-Length (chunked): counted while reading
        r = small.post("/v1/models/mlp_classifier/predict", content=iter([body[:1500], body[1500:]]), headers=JSON)
        assert r.status_code == 413 and "more than" in r.json()["detail"]
        ok = small.post("/v1/models/mlp_classifier/predict", json={"inputs": [0.5] * 64})
        assert ok.status_code == 200


def test_bad_requests_do_not_break_the_server(client: TestClient) -> None:
    x, _ = _digits_test(5)
    before = client.post("/v1/models/mlp_classifier/predict", json={"inputs": x}).json()
    for body in ('{"inputs": [[NaN]]}', '{"inputs": []}', '{"inputs": [["x"]]}', "{", '{"inputs": [[1.0, 2.0]]}'):
        assert _post(client, "/v1/models/mlp_classifier/predict", body)[0] == 422
    assert client.post("/v1/models/zzz/predict", json={"inputs": x}).status_code == 404
    after = client.post("/v1/models/mlp_classifier/predict", json={"inputs": x})
    assert after.status_code == 200 and after.json() == before
    assert client.get("/healthz").status_code == 200


# -- micro-batching -----------------------------------------------------------------------------


def test_concurrent_requests_are_batched_and_match_sequential_answers(runs_root: Path) -> None:
    import httpx

    x, _ = _digits_test(40)
    chunks = [x[i : i + k] for i, k in zip(range(0, 40, 4), [1, 2, 3, 4, 1, 2, 3, 4, 1, 2], strict=True)]
    app = create_app(runs_root, max_batch=64, max_wait_ms=100)  # a wide window: every request joins one batch

    async def ask(client: httpx.AsyncClient, inputs: list) -> dict:
        r = await client.post("/v1/models/mlp_classifier/predict", json={"inputs": inputs})
        assert r.status_code == 200, r.text
        return r.json()

    async def main() -> tuple[list[dict], list[dict]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            concurrent = await asyncio.gather(*(ask(client, c) for c in chunks))
            sequential = [await ask(client, c) for c in chunks]
        return concurrent, sequential

    try:
        concurrent, sequential = asyncio.run(main())
    finally:
        app.state.models.close()
    stats = app.state.models.runs["mlp_classifier@new"].batchers["predict"].stats
    assert stats.largest > 1  # concurrent requests shared a forward pass
    assert stats.requests == 2 * len(chunks) and stats.batches < stats.requests
    for c, s, inputs in zip(concurrent, sequential, chunks, strict=True):
        assert c["labels"] == s["labels"] and len(c["labels"]) == len(inputs)
        torch.testing.assert_close(
            torch.tensor(c["probabilities"]), torch.tensor(s["probabilities"]), rtol=1e-5, atol=1e-6
        )


def test_a_bad_request_in_a_batch_fails_alone(runs_root: Path) -> None:
    import httpx

    app = create_app(runs_root, max_wait_ms=100)

    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            good = {"inputs": [0.5] * 64}
            bad = {"inputs": [0.5] * 63}
            return await asyncio.gather(
                *(client.post("/v1/models/mlp_classifier/predict", json=b) for b in (good, bad, good))
            )

    try:
        responses = asyncio.run(main())
    finally:
        app.state.models.close()
    assert [r.status_code for r in responses] == [200, 422, 200]
    assert responses[0].json() == responses[2].json()


# -- generative and control verbs ---------------------------------------------------------------


def test_sample_and_reconstruct(client: TestClient, runs_root: Path) -> None:
    _need(runs_root, "vae_mlp")
    info = client.get("/v1/models/vae_mlp").json()
    assert info["verbs"] == ["sample", "reconstruct"] and info["task"] == "generate"
    shape = info["input_shape"]
    a = client.post("/v1/models/vae_mlp/sample", json={"n": 3, "seed": 7}).json()
    b = client.post("/v1/models/vae_mlp/sample", json={"n": 3, "seed": 7}).json()
    c = client.post("/v1/models/vae_mlp/sample", json={"n": 3, "seed": 8}).json()
    assert a["shape"] == [3, *shape] and list(torch.tensor(a["samples"]).shape) == a["shape"]
    assert a["samples"] == b["samples"] and a["samples"] != c["samples"]  # the seed decides the samples
    samples = torch.tensor(a["samples"])
    assert samples.min() >= 0 and samples.max() <= 1  # Bernoulli means
    assert client.post("/v1/models/vae_mlp/sample").json()["shape"][0] == 16  # defaults
    x = load_dataset("digits_images").test.x[:4]
    r = client.post("/v1/models/vae_mlp/reconstruct", json={"inputs": x.tolist()}).json()
    assert r["shape"] == [4, *shape]
    direct = inference.reconstruct(load_run(runs_root / "vae_mlp" / "t"), x)
    torch.testing.assert_close(torch.tensor(r["reconstructions"]), direct, rtol=1e-5, atol=1e-6)
    flat = client.post("/v1/models/vae_mlp/reconstruct", json={"inputs": x.flatten(1).tolist()}).json()
    assert flat["shape"] == r["shape"]  # flattened images are accepted


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"n": 0}', "n: Input should be greater than or equal to 1"),
        ('{"n": 100000}', "n: Input should be less than or equal to"),
        ('{"n": "3"}', "n: Input should be a valid integer"),
        ('{"n": 2, "seed": -1}', "seed: Input should be greater than or equal to 0"),
        ('{"n": 2, "temperature": 1}', "temperature: unknown field"),
    ],
)
def test_bad_sample_requests(client: TestClient, runs_root: Path, body: str, expected: str) -> None:
    _need(runs_root, "vae_mlp")
    status, detail = _post(client, "/v1/models/vae_mlp/sample", body)
    assert status == 422 and expected in detail


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (
            lambda x: (x * 16).tolist(),
            "inputs must lie in [0, 1], the range of the training data (digits_images); got values in [0, 16]",
        ),
        (lambda x: (x - 0.5).tolist(), "got values in [-0.5, 0.5]"),
        (lambda x: x[:, :, :4, :].tolist(), "expected inputs of shape (batch, 1, 8, 8) or (1, 8, 8), got (2, 1, 4, 8)"),
        (lambda x: x.expand(2, 3, 8, 8).tolist(), "got (2, 3, 8, 8)"),  # RGB for a grey-level model
    ],
)
def test_image_payloads_of_wrong_range_size_or_channels_are_422(
    client: TestClient, runs_root: Path, inputs, expected: str
) -> None:
    _need(runs_root, "vae_mlp")
    x = load_dataset("digits_images").test.x[:2]
    x = x / x.amax(dim=(1, 2, 3), keepdim=True)  # each image spans exactly [0, 1]
    r = client.post("/v1/models/vae_mlp/reconstruct", json={"inputs": inputs(x)})
    assert r.status_code == 422 and expected in r.json()["detail"], r.json()


def test_generative_model_refuses_predict(client: TestClient, runs_root: Path) -> None:
    _need(runs_root, "vae_mlp")
    r = client.post("/v1/models/vae_mlp/predict", json={"inputs": [0.0] * 64})
    assert r.status_code == 400 and "it serves: sample, reconstruct" in r.json()["detail"]


def test_act(client: TestClient, runs_root: Path) -> None:
    _need(runs_root, "dqn")
    info = client.get("/v1/models/dqn").json()
    assert info["verbs"] == ["act"] and info["input_shape"] == [4]
    obs = torch.randn(6, 4, generator=torch.Generator().manual_seed(0)) * 0.05
    out = client.post("/v1/models/dqn/act", json={"inputs": obs.tolist()}).json()
    assert len(out["actions"]) == 6 and all(a in (0, 1) for a in out["actions"])
    assert out["actions"] == inference.act(load_run(runs_root / "dqn" / "t"), obs)
    one = client.post("/v1/models/dqn/act", json={"inputs": obs[0].tolist()}).json()
    assert one["actions"] == out["actions"][:1]
    status, detail = _post(client, "/v1/models/dqn/act", '{"inputs": [[0.1, 0.2]]}')
    assert status == 422 and "(batch, 4)" in detail
    r = client.post("/v1/models/dqn/sample", json={"n": 1})
    assert r.status_code == 400 and "it serves: act" in r.json()["detail"]


# -- house rule ---------------------------------------------------------------------------------


def test_serve_never_imports_train(runs_root: Path) -> None:
    code = (
        "import sys, torch\n"
        "torch.set_num_threads(1)\n"
        "from dlzoo.serve import create_app\n"
        f"app = create_app({str(runs_root)!r})\n"
        "assert app.state.models.runs, 'no runs loaded'\n"
        "bad = sorted(m for m in sys.modules if m == 'dlzoo.training' or m.startswith('dlzoo.training.'))\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
