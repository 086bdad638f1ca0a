"""A new user's first hour, scripted: every command of the README's CLI lines, in subprocesses, on tiny
presets. Each command must exit 0, and every output that claims to be JSON must parse."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ENV = {**os.environ, "DLZOO_OFFLINE": "1", "COLUMNS": "80"}


def dlzoo(*args: str, cwd: Path) -> str:
    """Run ``dlzoo ARGS`` as a user would (80 columns, a pipe); assert it succeeded; return stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", "dlzoo", *args], capture_output=True, text=True, cwd=cwd, env=ENV, timeout=240
    )
    assert proc.returncode == 0, f"dlzoo {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


def json_lines(text: str) -> list:
    return [json.loads(line) for line in text.splitlines()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_first_hour_tour(tmp_path: Path) -> None:
    from dlzoo import __version__
    from dlzoo.registry import list_models

    # discover
    assert "Usage: " in dlzoo("--help", cwd=tmp_path) and "train" in dlzoo("--help", cwd=tmp_path)
    assert dlzoo("--version", cwd=tmp_path).strip() == f"dlzoo {__version__}"
    assert max(len(line) for line in dlzoo("list", cwd=tmp_path).splitlines()) <= 80
    assert [r["name"] for r in json.loads(dlzoo("list", "--json", cwd=tmp_path))] == list_models()
    assert "train.threads = 'auto'" in dlzoo("info", "mlp_classifier", "--preset", "tiny", cwd=tmp_path)

    # train three families (supervised, generative, language), shortened
    trains = {
        "mlp_classifier": ["train.epochs=3"],
        "vae_mlp": ["train.epochs=2"],
        "gpt": ["task.max_iters=20", "task.eval_interval=10", "task.warmup_iters=2"],
    }
    for model, overrides in trains.items():
        out = dlzoo("train", model, "--preset", "tiny", "--name", "tour", *overrides, cwd=tmp_path)
        assert out.startswith(f"done runs/{model}/tour: test/"), out
    mlp, vae, gpt = (f"runs/{m}/tour" for m in trains)

    # evaluate, predict from a JSON file of inputs
    assert "test/accuracy" in json.loads(dlzoo("eval", mlp, cwd=tmp_path))
    (tmp_path / "x.json").write_text(json.dumps({"inputs": [[0.0] * 64, [8.0] * 64]}))
    head, *rows = json_lines(dlzoo("predict", mlp, "x.json", cwd=tmp_path))
    assert len(head["class_names"]) == 10 and len(rows) == 2 and {"label", "probabilities"} <= set(rows[0])

    # sample: text (plain, and JSON with --json), an image grid
    text = dlzoo("sample", gpt, "--request", '{"prompt": "ab", "max_new_tokens": 20}', cwd=tmp_path)
    assert text.startswith("ab") and len(text) == 2 + 20 + 1
    (answer,) = json_lines(dlzoo("sample", gpt, "--json", "--request", '{"max_new_tokens": 5}', cwd=tmp_path))
    assert len(answer["completions"][0]) == 5
    assert dlzoo("sample", vae, "--n", "16", "--out", "grid.png", cwd=tmp_path).strip() == "wrote grid.png"
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"

    # export
    assert "wrote " in dlzoo("export", mlp, "--format", "onnx", cwd=tmp_path)
    assert (tmp_path / mlp / "export" / "model.onnx").is_file()

    # serve on a free loopback port: liveness, one prediction, then stop the server
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dlzoo", "serve", "--runs", "runs", "--port", str(port)],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 90
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                health = httpx.get(f"{url}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer /healthz within 90 s"
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()
        r = httpx.post(f"{url}/v1/models/mlp_classifier/predict", json={"inputs": [[0.0] * 64]}, timeout=30)
        assert r.status_code == 200, r.text
        assert len(r.json()["labels"]) == 1
    finally:
        server.terminate()
        server.wait(timeout=30)
