"""Serving you can expose: API keys, request ids, /metrics, compute budgets, per-model slots and queue,
deadlines for slow or half-sent requests, streams stopped when the client leaves, and the OpenAPI schema
agreeing with what the verbs answer."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
import torch
from fastapi.testclient import TestClient
from serve_live import live_server, read_all

from dlzoo.serve import create_app
from dlzoo.serve.limits import Busy, Gate
from dlzoo.serve.server import PROTOCOL
from dlzoo.serve.settings import ServeSettings

DIGIT = {"inputs": [[0.0] * 64]}


@pytest.fixture(scope="module")
def root(train_tiny, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("expose")
    for model in ("mlp_classifier", "gpt", "gan"):
        shutil.copytree(train_tiny(model), root / model / "r")
    return root


def test_api_key_guards_everything_but_healthz(root: Path) -> None:
    with TestClient(create_app(root, api_key="s3cret")) as c:
        assert c.get("/healthz").status_code == 200
        r = c.post("/v1/models/mlp_classifier/predict", json=DIGIT)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in r.json()["detail"] and r.json()["request_id"]
        wrong = c.get("/v1/models", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "invalid API key" in wrong.json()["detail"]
        assert c.get("/metrics").status_code == 401
        ok = c.post("/v1/models/mlp_classifier/predict", json=DIGIT, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200, ok.text


def test_serve_refuses_a_public_address_without_a_key(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dlzoo.cli", "serve", "--host", "0.0.0.0", "--runs", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "DLZOO_API_KEY": ""},
    )
    assert proc.returncode == 2
    assert "no API key" in proc.stderr and "--insecure" in proc.stderr and "Traceback" not in proc.stderr


def test_request_ids_in_and_out_and_in_error_bodies(root: Path) -> None:
    with TestClient(create_app(root)) as c:
        r = c.post("/v1/models/mlp_classifier/predict", json={"inputs": [[1.0]]}, headers={"X-Request-ID": "abc-1"})
        assert r.status_code == 422 and r.headers["x-request-id"] == "abc-1" and r.json()["request_id"] == "abc-1"
        fresh = c.get("/v1/models/nosuch")
        assert fresh.status_code == 404 and fresh.json()["request_id"] == fresh.headers["x-request-id"]
        odd = c.get("/healthz", headers={"X-Request-ID": "x" * 500})  # implausible: replaced
        assert odd.headers["x-request-id"] != "x" * 500 and len(odd.headers["x-request-id"]) == 25


def test_metrics_count_requests_latency_and_batches(root: Path) -> None:
    with TestClient(create_app(root)) as c:
        for _ in range(3):
            assert c.post("/v1/models/mlp_classifier/predict", json=DIGIT).status_code == 200
        c.get("/v1/models/nosuch/predict")
        text = c.get("/metrics").text
    name = 'model="mlp_classifier@r"'
    assert f'dlzoo_requests_total{{{name},status="200",verb="predict"}} 3.0' in text
    assert f'dlzoo_request_seconds_count{{{name},verb="predict"}} 3.0' in text
    assert f'dlzoo_batch_requests_count{{{name},verb="predict"}} 3.0' in text
    assert f"dlzoo_queue_depth{{{name}}} 0.0" in text and "nosuch" not in text


def test_compute_budgets_are_a_clear_422(root: Path) -> None:
    settings = ServeSettings(max_tokens=100, max_sample_steps=8)
    with TestClient(create_app(root, settings=settings)) as c:
        r = c.post("/v1/models/gpt/sample", json={"n": 4, "max_new_tokens": 50})
        assert r.status_code == 422
        assert r.json()["detail"].startswith("n x max_new_tokens = 200 is over this server's budget of 100")
        assert "--max-tokens" in r.json()["detail"]
        assert c.post("/v1/models/gpt/sample", json={"n": 2, "max_new_tokens": 50}).status_code == 200
        big = c.post("/v1/models/gan/sample", json={"n": 9})
        assert big.status_code == 422 and "--max-sample-steps" in big.json()["detail"]
        assert c.post("/v1/models/gan/sample", json={"n": 8}).status_code == 200


def test_gate_queues_then_answers_503_with_retry_after() -> None:
    async def main() -> list[str]:
        gate = Gate(name="m@r", concurrency=1, queue=1, timeout_s=0.3)
        outcomes: list[str] = []

        async def request(hold: float) -> None:
            try:
                await gate.acquire()
            except Busy as e:
                outcomes.append(f"busy {e.retry_after}: {e.detail}")
                return
            try:
                await anyio.sleep(hold)
                outcomes.append("ok")
            finally:
                gate.release()

        async with anyio.create_task_group() as tg:
            tg.start_soon(request, 1.0)  # holds the only slot past the queue timeout
            await anyio.sleep(0.05)
            tg.start_soon(request, 0)  # waits in the queue, then times out
            await anyio.sleep(0.05)
            tg.start_soon(request, 0)  # the queue is full: refused at once
        assert gate.active == 0 and gate.waiting == 0
        return outcomes

    outcomes = anyio.run(main)
    assert outcomes[0].startswith("busy 1:") and "waiting" in outcomes[0]  # the full queue, first
    assert outcomes[1].startswith("busy 1:") and "no free slot within 0.3 s" in outcomes[1]
    assert outcomes[2] == "ok"


def test_a_busy_model_is_503_over_http(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dlzoo.families.transformer import pipeline

    real = pipeline._stream

    def slow(*args, **kwargs):  # a generation that holds its slot for seconds
        for item in real(*args, **kwargs):
            time.sleep(0.01)
            yield item

    monkeypatch.setattr(pipeline, "_stream", slow)
    settings = ServeSettings(max_concurrency=1, max_queue=1, queue_timeout_s=0.2)
    app = create_app(root, settings=settings)
    with live_server(app) as port:
        socks = []
        for _ in range(3):  # three slow streams at once: one runs, one waits and times out, one is refused
            s = socket.create_connection(("127.0.0.1", port))
            body = json.dumps({"max_new_tokens": 4000, "n": 2, "stream": True}).encode()
            s.sendall(
                b"POST /v1/models/gpt/sample HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            socks.append(s)
            time.sleep(0.05)
        heads = []
        for s in socks:  # all read before any closes: a client that leaves frees its slot at once
            s.settimeout(5)
            heads.append(s.recv(4096).decode())
        for s in socks:
            s.close()
    statuses = sorted(h.split(" ", 2)[1] for h in heads)
    assert statuses == ["200", "503", "503"], heads
    assert all("retry-after: 1" in h.lower() for h in heads if " 503 " in h)


def test_half_sent_bodies_and_headers_time_out(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(root, settings=ServeSettings(body_timeout_s=0.5))
    monkeypatch.setattr(PROTOCOL, "header_timeout_s", 0.5)  # `dlzoo serve` sets both from --body-timeout-s
    with live_server(app) as port:
        with socket.create_connection(("127.0.0.1", port)) as s:  # half a body: 408
            s.sendall(
                b"POST /v1/models/mlp_classifier/predict HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" + b'{"inputs": [[0.0'
            )
            t0 = time.monotonic()
            reply = read_all(s, timeout=5).decode()
            assert reply.startswith("HTTP/1.1 408") and "not received in full within 0.5 s" in reply
            assert time.monotonic() - t0 < 3
        with socket.create_connection(("127.0.0.1", port)) as s:  # half the headers: closed
            s.sendall(b"POST /v1/models/mlp_classifier/predict HTTP/1.1\r\nHost: x\r\n")
            t0 = time.monotonic()
            assert read_all(s, timeout=5) == b""
            assert time.monotonic() - t0 < 3
        with socket.create_connection(("127.0.0.1", port)) as s:  # connected, nothing sent: closed
            t0 = time.monotonic()
            assert read_all(s, timeout=5) == b""
            assert time.monotonic() - t0 < 3


def test_a_stream_stops_generating_when_the_client_leaves(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dlzoo.families.transformer import pipeline

    made = {"tokens": 0, "closed": False}
    real = pipeline._stream

    def counted(*args, **kwargs):
        try:
            for item in real(*args, **kwargs):
                made["tokens"] += 1
                yield item
        finally:
            made["closed"] = True

    monkeypatch.setattr(pipeline, "_stream", counted)
    app = create_app(root)
    with live_server(app) as port:
        with socket.create_connection(("127.0.0.1", port)) as s:
            body = json.dumps({"max_new_tokens": 4000, "stream": True}).encode()
            s.sendall(
                b"POST /v1/models/gpt/sample HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            got = b""
            while b'{"text"' not in got:
                got += s.recv(4096)
        deadline = time.monotonic() + 5
        while not made["closed"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert made["closed"] and made["tokens"] < 4000
        assert app.state.gates["gpt@r"].active == 0  # the slot came back


def test_openapi_agrees_with_the_verbs(root: Path) -> None:
    with TestClient(create_app(root)) as c:
        schema = c.get("/openapi.json").json()
        text = json.dumps(schema)
        assert "9.223372036854776e+18" not in text and "1024.0" not in text
        seed = schema["components"]["schemas"]["SampleRequest"]["properties"]["seed"]
        assert seed["maximum"] == 2**63 - 1 and isinstance(seed["maximum"], int)
        assert "0.1, 0.2, 0.3" not in text  # no example that every model refuses
        ok = schema["paths"]["/v1/models/{name}/sample"]["post"]["responses"]["200"]["content"]
        refs = json.dumps(ok["application/json"]["schema"])
        assert "TextSampleResponse" in refs and "SampleResponse" in refs and "application/x-ndjson" in ok
        answer = c.post("/v1/models/gpt/sample", json={"max_new_tokens": 3}).json()
        declared = schema["components"]["schemas"]["TextSampleResponse"]["properties"]
        assert set(answer) == set(declared)


def test_a_discrete_policy_whose_q_values_overflow_is_an_error() -> None:
    from dlzoo.families.rl.pipeline import DQNPipeline
    from dlzoo.validation import NonFiniteOutput

    model = torch.nn.Linear(2, 3)
    torch.nn.init.constant_(model.weight, 3e38)
    torch.nn.init.zeros_(model.bias)
    with pytest.raises(NonFiniteOutput, match="not finite"):
        DQNPipeline.act(model, torch.tensor([[0.0, 0.0], [2.0, 2.0]]))
    assert DQNPipeline.act(model, torch.zeros(1, 2)).tolist() == [0]


def test_workers_build_the_app_from_the_environment(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dlzoo serve --workers N` hands uvicorn the factory by its import string; each worker rebuilds the
    app from DLZOO_SERVE_SETTINGS, and the key from DLZOO_API_KEY (never written in the settings)."""
    from uvicorn.importer import import_from_string

    settings = ServeSettings(runs=str(root), max_tokens=77, api_key="k")
    assert "k" not in json.loads(settings.to_env()).values()
    monkeypatch.setenv("DLZOO_SERVE_SETTINGS", settings.to_env())
    monkeypatch.setenv("DLZOO_API_KEY", "k")
    app = import_from_string("dlzoo.serve.settings:app_from_env")()
    assert app.state.settings == settings
    with TestClient(app) as c:
        assert c.get("/v1/models").status_code == 401
        assert c.get("/v1/models", headers={"Authorization": "Bearer k"}).json()["models"]
