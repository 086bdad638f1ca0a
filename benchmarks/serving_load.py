"""Serving under load: ``dlzoo serve`` against a plain FastAPI endpoint and LitServe, same model, same requests.

    flock /tmp/dlzoo-bench.lock nice -n 5 python benchmarks/serving_load.py      # ~3 minutes, records
    python benchmarks/serving_load.py --smoke                                     # seconds, records nothing

``--model`` picks the served model (one example per request); the record's ``config.forward_alone``
has its forward pass alone (one torch thread, ms per example at batch 1 and at batch 32):
  mlp_wide  ``mlp_classifier`` (digits, 64 inputs) widened to two hidden layers of 2048 units (4.3 M
            parameters, 17 MB of float32 weights), trained one epoch. At batch 1 its forward pass is two
            matrix-vector products that read every weight from memory (~1 ms); a batch of 32 reads them
            once (~0.25 ms per example). The forward pass costs about what the HTTP handling costs.
  lenet     the cnn family's ``lenet`` on MNIST-shaped input (1 x 28 x 28, sent flattened as 784
            numbers), two conv layers of 32 and 64 5x5 filters and a 1024-unit dense layer (3.3 M
            parameters), trained for 8 steps on 1024 MNIST images (the weights' quality does not matter
            for throughput): ~1.2 ms at batch 1, ~0.5 ms per example at batch 32.
  resnet2d  the resnet family's CIFAR-style ``resnet2d`` (3 stages of 3 basic blocks, width 32: 20
            layers, 0.5 M parameters) on the same input, trained for the same 8 steps: ~5 ms at batch 1,
            but convolutions on a CPU are compute-bound already at batch 1: ~2.2 ms per example at batch
            32, so batching cannot save more than about half of the model's time.

Three servers, each its own process on 127.0.0.1 with one torch thread and one uvicorn worker:
  dlzoo     ``dlzoo serve`` with its defaults (adaptive micro-batching: no wait when idle, requests that
            arrive during a forward pass share the next one)
  plain     FastAPI, one request = one forward pass: ``def predict(body)`` (FastAPI runs it in its
            thread pool) -> ``model(torch.tensor(body.inputs)).softmax(-1)``; the body is a pydantic
            model ``inputs: list[list[float]]``
  litserve  LitServe (``LitAPI`` with ``max_batch_size=32``, ``batch_timeout=0.005``, its default loop;
            inference in a worker process)

The client (this process, asyncio, raw HTTP/1.1 on keep-alive connections, no client library) runs
C = 1, 8, 32 connections, each sending its next request when the previous one is answered (a closed
loop: bounded, at most C requests in flight), for ``--warmup`` then ``--seconds`` measured, ``--reps``
times, the three servers taking turns in a rotating order (all three stay up, idle while another is
measured). Reported per server and C: throughput (mean of the reps, answered requests / s), p50 (median
of the reps) and p99 (worst rep) latency in ms, errors, and the server's CPU time per answered request
(user + system of the server process and its children over the measured window): on a shared machine
the CPU share a server gets varies (and a server with 32 runnable threads gets more of it than one with
two), while the CPU it spends per request is steadier. The machine is
shared (2 cores for the servers, the client and other jobs): the numbers are this run's, not a
capacity rating.
"""

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pydantic import BaseModel  # noqa: E402

CLIENTS = (1, 8, 32)
#: --model: the registered model, its preset and overrides (trained in a temporary runs folder), the record's key
MODELS: dict[str, dict[str, Any]] = {
    "mlp_wide": {
        "model": "mlp_classifier",
        "preset": "tiny",
        "overrides": ["train.epochs=1", "model.hidden=[2048, 2048]"],
        "key": "mlp_classifier_wide",
        "family": "mlp",
        "dataset": "digits (one test example per request)",
    },
    "lenet": {
        "model": "lenet",
        "preset": "mnist",
        "overrides": [
            "model.channels=[32, 64]",
            "model.hidden=1024",
            "data.limit=1024",
            "data.val_size=0",
            "train.epochs=1",
            "train.scheduler=none",
        ],
        "key": "lenet_mnist",
        "family": "cnn",
        "dataset": "MNIST (one test image per request, flattened to 784 numbers)",
    },
    "resnet2d": {
        "model": "resnet2d",
        "preset": "mnist",
        "overrides": ["model.width=32", "data.limit=1024", "data.val_size=0", "train.epochs=1", "train.scheduler=none"],
        "key": "resnet2d_mnist",
        "family": "resnet",
        "dataset": "MNIST (one test image per request, flattened to 784 numbers)",
    },
}


class PlainBody(BaseModel):
    """The plain endpoint's body (module level: FastAPI resolves the annotation by name)."""

    inputs: list[list[float]]


# -- servers (each runs in its own process: `serving_load.py --serve <kind> --run <dir> --port <p>`) ----


def serve_plain(run: Path, port: int) -> None:
    import torch
    import uvicorn
    from fastapi import FastAPI

    from dlzoo.runs import load_run

    torch.set_num_threads(1)
    loaded = load_run(run)
    model, shape = loaded.model.eval(), loaded.config.info["input_shape"]
    app = FastAPI()

    @app.post("/predict")
    def predict(body: PlainBody) -> dict[str, Any]:
        with torch.no_grad():
            probs = model(torch.tensor(body.inputs).view(-1, *shape)).softmax(-1)
        return {"labels": probs.argmax(-1).tolist(), "probabilities": probs.tolist()}

    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


try:  # LitServe (the [bench] extra): its worker processes unpickle the API class, so it lives at module level
    import litserve as ls
except ImportError:
    ls = None

if ls is not None:

    class LitDigits(ls.LitAPI):
        def setup(self, device: str) -> None:
            import torch

            from dlzoo.runs import load_run

            torch.set_num_threads(1)
            loaded = load_run(os.environ["DLZOO_BENCH_RUN"])
            self.model, self.shape = loaded.model.eval(), loaded.config.info["input_shape"]

        def decode_request(self, request: PlainBody) -> Any:  # the same pydantic body as the plain endpoint
            import torch

            return torch.tensor(request.inputs, dtype=torch.float32).view(-1, *self.shape)  # (1, *shape)

        def batch(self, inputs: list[Any]) -> Any:
            import torch

            return torch.cat(inputs)  # (B, *shape)

        def predict(self, x: Any) -> Any:
            import torch

            with torch.no_grad():
                return self.model(x).softmax(-1)

        def unbatch(self, output: Any) -> list[Any]:
            return list(output.split(1))

        def encode_response(self, probs: Any) -> dict[str, Any]:
            return {"labels": probs.argmax(-1).tolist(), "probabilities": probs.tolist()}


def serve_litserve(run: Path, port: int) -> None:
    if ls is None:
        raise SystemExit("LitServe is not installed: pip install -c constraints.txt -e '.[bench]'")
    os.environ["DLZOO_BENCH_RUN"] = str(run)
    api = LitDigits(max_batch_size=32, batch_timeout=0.005)
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=1, timeout=30)
    server.run(port=port, log_level="warning", generate_client_file=False)


# -- the load generator ------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a server process and its children (LitServe's inference worker)."""
    import psutil

    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


async def _one_client(
    port: int, request: bytes, stop_at: float, measure_from: float, out: list[float], cpu_window: list[float]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    try:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            t1 = time.perf_counter()
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            elif t0 >= measure_from:
                out.append(t1 - t0)
    finally:
        writer.close()
    return errors


async def _load(
    port: int, path: str, body: bytes, clients: int, warmup: float, seconds: float, pid: int | None = None
) -> dict[str, Any]:
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds
    latencies: list[float] = []
    cpu: list[float] = []

    async def cpu_meter() -> None:  # the server's CPU time over the measured window
        if pid is None:
            return
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        cpu.append(_cpu_seconds(pid))
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        cpu.append(_cpu_seconds(pid))

    *errors, _ = await asyncio.gather(
        *(_one_client(port, request, stop_at, measure_from, latencies, cpu) for _ in range(clients)), cpu_meter()
    )
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else (latencies or [float("nan")]) * 99
    return {
        "clients": clients,
        "throughput_rps": len(latencies) / seconds,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "requests": len(latencies),
        "errors": sum(errors),
        "server_cpu_ms_per_request": (cpu[1] - cpu[0]) * 1000 / max(1, len(latencies)) if len(cpu) == 2 else None,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(port: int, path: str, body: bytes, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            r = asyncio.run(_load(port, path, body, 1, 0.0, 0.3))
            if r["requests"] and not r["errors"]:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the server did not answer in time")


def _start(kind: str, run: Path, root: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if kind == "dlzoo":
        cmd = [sys.executable, "-m", "dlzoo.cli", "serve", "--runs", str(root), "--port", str(port)]
    else:
        cmd = [sys.executable, __file__, "--serve", kind, "--run", str(run), "--port", str(port)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen) -> None:
    """Stop a server and every process it started (LitServe's workers outlive a terminated parent)."""
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def _train(root: Path, which: dict[str, Any]) -> Path:
    import torch

    from dlzoo.config import resolve_config
    from dlzoo.runs import RunDir
    from dlzoo.training import train_run

    torch.set_num_threads(1)
    overrides = ["train.progress=false", "train.threads=1", *which["overrides"]]
    run = RunDir.create(root, which["model"], "bench")
    train_run(resolve_config(which["model"], preset=which["preset"], overrides=overrides), run)
    return run.path


def _example(run: Path) -> list[float]:
    """One test example of the run's data, flattened, as the server's users send it."""
    from dlzoo.data import load_dataset
    from dlzoo.runs import load_run

    cfg = load_run(run).config
    data = load_dataset(cfg.data["name"], **cfg.data_args())
    return [float(v) for v in data.test.x[-1].flatten()]


def _forward_ms(run: Path) -> dict[str, float]:
    """The model's forward pass alone, one torch thread: ms at batch 1 and per example at batch 32."""
    import torch

    from dlzoo.runs import load_run

    torch.set_num_threads(1)
    loaded = load_run(run)
    model, shape = loaded.model.eval(), loaded.config.info["input_shape"]
    out = {}
    with torch.no_grad():
        for b in (1, 32):
            x = torch.rand(b, *shape)
            for _ in range(3):
                model(x)
            n, t0 = max(5, 200 // b), time.perf_counter()
            for _ in range(n):
                model(x)
            out[f"batch{b}_ms_per_example"] = (time.perf_counter() - t0) / n / b * 1000
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--serve", choices=["plain", "litserve"], help=argparse.SUPPRESS)
    p.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    p.add_argument("--seconds", type=float, default=4.0, help="seconds measured per server and client count")
    p.add_argument("--reps", type=int, default=3, help="measurements per server and client count, alternating")
    p.add_argument("--model", choices=sorted(MODELS), default="mlp_wide", help="the served model (see above)")
    p.add_argument("--smoke", action="store_true", help="short runs, dlzoo and plain only, no record")
    args = p.parse_args()
    if args.serve:
        {"plain": serve_plain, "litserve": serve_litserve}[args.serve](args.run, args.port)
        return
    if args.smoke:
        args.warmup, args.seconds, args.reps = 0.5, 1.0, 1
    t_start = time.perf_counter()
    kinds = ["dlzoo", "plain"] if args.smoke else ["dlzoo", "plain", "litserve"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        which = MODELS[args.model]
        run = _train(root, which)
        forward = _forward_ms(run)
        print(f"{args.model}: forward pass alone {forward}", flush=True)
        example = _example(run)
        body = json.dumps({"inputs": [example]}).encode()
        servers: dict[str, tuple[int, str, subprocess.Popen]] = {}
        runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
        try:
            for kind in kinds:  # all up at once (idle when not measured), so that measurements can alternate
                port = _free_port()
                path = f"/v1/models/{which['model']}/predict" if kind == "dlzoo" else "/predict"
                servers[kind] = (port, path, _start(kind, run, root, port))
            for port, path, proc in servers.values():
                _wait_ready(port, path, body, proc)
            for c in CLIENTS:  # the servers take turns, in a rotating order: drift in the machine's load
                for rep in range(args.reps):  # (other jobs) falls on each of them alike
                    order = kinds[rep % len(kinds) :] + kinds[: rep % len(kinds)]
                    for kind in order:
                        port, path, proc = servers[kind]
                        runs.setdefault((kind, c), []).append(
                            asyncio.run(_load(port, path, body, c, args.warmup, args.seconds, pid=proc.pid))
                        )
        finally:
            for _, _, proc in servers.values():
                _stop(proc)
    results: dict[str, list[dict[str, Any]]] = {}
    for (kind, c), reps in runs.items():
        merged = {
            "clients": c,
            "throughput_rps": statistics.fmean(r["throughput_rps"] for r in reps),
            "throughput_rps_each": [round(r["throughput_rps"], 1) for r in reps],
            "p50_ms": statistics.median(r["p50_ms"] for r in reps),
            "p99_ms": max(r["p99_ms"] for r in reps),
            "requests": sum(r["requests"] for r in reps),
            "errors": sum(r["errors"] for r in reps),
            "server_cpu_ms_per_request": statistics.fmean(r["server_cpu_ms_per_request"] for r in reps),
        }
        results.setdefault(kind, []).append(merged)
        print(
            f"{kind:9s} C={c:2d}: {merged['throughput_rps']:7.1f} req/s {merged['throughput_rps_each']}  "
            f"p50 {merged['p50_ms']:6.2f} ms  p99 {merged['p99_ms']:7.2f} ms  "
            f"server CPU {merged['server_cpu_ms_per_request']:.2f} ms/request "
            f"({merged['requests']} requests, {merged['errors']} errors)",
            flush=True,
        )
    wall = time.perf_counter() - t_start
    at = {k: {r["clients"]: r for r in v} for k, v in results.items()}
    ratio32 = at["dlzoo"][32]["throughput_rps"] / at["plain"][32]["throughput_rps"]
    p50_ratio1 = at["dlzoo"][1]["p50_ms"] / at["plain"][1]["p50_ms"]
    print(f"dlzoo / plain throughput at 32 clients: {ratio32:.2f}x; p50 at 1 client: {p50_ratio1:.2f}x plain's")
    if args.smoke:
        return
    from _record import record

    baselines = [
        {
            "name": kind,
            "value": at[kind][32]["throughput_rps"],
            "metric": "throughput_rps at 32 clients",
            "by_clients": results[kind],
        }
        for kind in kinds
        if kind != "dlzoo"
    ]
    record(
        "serving_load",
        key=which["key"],
        model=which["model"],
        family=which["family"],
        dataset=which["dataset"],
        split="n/a: serving throughput",
        metric="throughput_ratio_vs_plain_at_32_clients",
        values=[ratio32],
        seeds=[0],
        wall_time_s=wall,
        reference={"value": 2.0, "source": "goal: >= 2x a one-request-one-forward FastAPI endpoint at 32 clients"},
        baselines=baselines,
        config={
            "model": args.model,
            "preset": which["preset"],
            "overrides": which["overrides"],
            "forward_alone": forward,
            "clients": list(CLIENTS),
            "warmup_s": args.warmup,
            "reps": args.reps,
            "seconds": args.seconds,
            "torch_threads": 1,
            "uvicorn_workers": 1,
            "dlzoo_serve": "defaults (max_batch 256, max_wait_ms 0: adaptive)",
        },
        notes=(
            "One run on a 2-core machine shared with other jobs; client and servers on the same cores. "
            f"dlzoo p50 at 1 client = {p50_ratio1:.2f} x plain's. The model was trained briefly "
            f"({', '.join(which['overrides'])}): the weights' quality does not matter for throughput."
        ),
        extra={"dlzoo": results["dlzoo"], "p50_ratio_at_1_client": p50_ratio1, "overrides": which["overrides"]},
    )


if __name__ == "__main__":
    main()
