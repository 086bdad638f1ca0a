"""Inference speed of every servable model: eager fp32, eager bf16, TorchScript and ONNX Runtime, one table.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/inference_speed.py
    python benchmarks/inference_speed.py --models mlp_classifier lenet --smoke      # records nothing

Each model is built from its canonical preset (the first of ``--presets`` it has; its data gives the
input shape, so a preset whose data folder is absent is skipped with the reason) with its initial
weights: speed does not depend on what the weights learned. Its inputs are the paradigm's own
(``Task.example_inputs``: rows, images, token ids, graphs, observations) for a batch of 1 and of
``--batch``. The four runtimes answer the same forward:

- eager fp32: ``model(*x)`` under ``torch.inference_mode``;
- eager bf16: the same under ``torch.autocast("cpu", torch.bfloat16)`` (what ``train.precision=bf16-mixed``
  runs); only worth it on CPUs with AMX or AVX-512-BF16, elsewhere bf16 is emulated;
- TorchScript: ``dlzoo.export`` (script, else trace), ``torch.jit.load``, frozen by the JIT's profiling runs;
- ONNX Runtime: ``dlzoo.export`` (dynamo or TorchScript exporter), one ``InferenceSession`` with
  ``intra_op_num_threads`` = the torch threads.

Timing: ``--warmup`` calls, then calls until ``--seconds`` have passed (at least 5); the median call.
Latency is the median of a batch of 1 (ms); throughput is examples/s at ``--batch``. One torch thread by
default (``--threads``): the project's benchmarks share a 2-core machine. A runtime that cannot run the
model (an exporter refusing an op) is reported as such, with its one-line reason, never dropped silently.
Every record names the CPU and its instruction sets (``hardware``), so tables from different machines
are never read as one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

os.environ.setdefault("DLZOO_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.data import DataError  # noqa: E402
from dlzoo.export import ExportError, export_model  # noqa: E402
from dlzoo.registry import get_spec, list_models  # noqa: E402
from dlzoo.tasks import make_task  # noqa: E402
from dlzoo.tasks.base import Context  # noqa: E402

RUNTIMES = ("eager fp32", "eager bf16", "TorchScript", "ONNX Runtime")
Runner = Callable[[tuple[torch.Tensor, ...]], Any]


def build(name: str, preset: str) -> Any:
    """The model's Task after setup (data loaded, model built) for ``preset``, on the CPU."""
    from lightning_fabric import Fabric

    cfg = resolve_config(name, preset=preset, overrides=["train.progress=false"])
    fabric = Fabric(accelerator="cpu", devices=1)
    fabric.seed_everything(0, verbose=False)
    task = make_task(Context(get_spec(name), cfg, fabric))
    task.setup()
    task.model.eval()
    return task


def median_call_s(run: Runner, x: tuple[torch.Tensor, ...], *, warmup: int, seconds: float) -> float:
    for _ in range(warmup):
        run(x)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def runners(task: Any, folder: Path, threads: int) -> dict[str, Runner | str]:
    """Each runtime's forward, or the one-line reason it cannot run this model."""
    model = task.model
    out: dict[str, Runner | str] = {}

    @torch.inference_mode()
    def eager(x: tuple[torch.Tensor, ...]) -> Any:
        return model(*x)

    @torch.inference_mode()
    def eager_bf16(x: tuple[torch.Tensor, ...]) -> Any:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model(*x)

    out["eager fp32"], out["eager bf16"] = eager, eager_bf16
    example = tuple(task.example_inputs(4))
    check = [tuple(task.example_inputs(5)), tuple(task.example_inputs(1))]
    dynamic = getattr(task, "dynamic_dims", None)
    for fmt, label in (("torchscript", "TorchScript"), ("onnx", "ONNX Runtime")):
        path = folder / f"model.{'pt' if fmt == 'torchscript' else 'onnx'}"
        try:
            export_model(model, example, path, fmt=fmt, check=check, dynamic=dynamic)
        except (ExportError, RuntimeError, ValueError) as e:
            out[label] = f"not exported: {str(e).splitlines()[0][:160]}"
            continue
        if fmt == "torchscript":
            module = torch.jit.load(str(path), map_location="cpu").eval()

            @torch.inference_mode()
            def script(x: tuple[torch.Tensor, ...], module: Any = module) -> Any:
                return module(*x)

            out[label] = script
        else:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            names = [i.name for i in session.get_inputs()]

            def onnx(x: tuple[torch.Tensor, ...], session: Any = session, names: list[str] = names) -> Any:
                return session.run(None, {n: t.numpy() for n, t in zip(names, x, strict=True)})

            out[label] = onnx
    return out


def measure(name: str, preset: str, args: argparse.Namespace) -> dict[str, Any]:
    task = build(name, preset)
    x1, xb = tuple(task.example_inputs(1)), tuple(task.example_inputs(args.batch))
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, run in runners(task, Path(tmp), args.threads).items():
            if isinstance(run, str):
                rows[label] = {"error": run}
                continue
            try:
                lat = median_call_s(run, x1, warmup=args.warmup, seconds=args.seconds)
                big = median_call_s(run, xb, warmup=args.warmup, seconds=args.seconds)
            except Exception as e:  # a runtime that builds but cannot run the other batch size
                rows[label] = {"error": f"fails: {str(e).splitlines()[0][:160]}"}
                continue
            rows[label] = {"p50_ms_batch1": 1e3 * lat, "examples_per_s": args.batch / big}
            print(f"  {label:13s} {1e3 * lat:9.3f} ms (batch 1)  {args.batch / big:12.0f} examples/s", flush=True)
    n_params = sum(p.numel() for p in task.model.parameters())
    return {"rows": rows, "params": n_params, "cfg": task.ctx.cfg}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="*", default=None, help="registered names (default: every model)")
    p.add_argument(
        "--presets",
        default="mnist,cora,mutag,shakespeare_cpu,ucr,stable,default",
        help="presets in order of preference: each model is built from the first it has (else tiny)",
    )
    p.add_argument("--batch", type=int, default=64, help="batch size of the throughput figure")
    p.add_argument("--threads", type=int, default=1, help="torch (and ONNX Runtime) intra-op threads")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--seconds", type=float, default=1.0, help="time each runtime at each batch size this long")
    p.add_argument("--smoke", action="store_true", help="0.1 s per measurement, record nothing")
    args = p.parse_args()
    if args.smoke:
        args.seconds, args.warmup = 0.1, 1
    torch.set_num_threads(args.threads)
    for name in args.models or list_models():
        preset = next((p for p in args.presets.split(",") if p in get_spec(name).presets), "tiny")
        print(f"{name} ({preset})", flush=True)
        t0 = time.perf_counter()
        try:
            res = measure(name, preset, args)
        except (DataError, FileNotFoundError) as e:
            print(f"  skipped: {str(e).splitlines()[0]}")
            continue
        if args.smoke:
            continue
        rows, spec = res["rows"], get_spec(name)
        base = rows["eager fp32"]
        baselines = []
        for label in RUNTIMES[1:]:
            r = rows[label]
            entry = {"name": label, "value": r.get("p50_ms_batch1"), "examples_per_s": r.get("examples_per_s")}
            if "error" in r:
                entry["error"] = r["error"]
            baselines.append(entry)
        cfg = res["cfg"]
        record(
            "inference_speed",
            key=f"{name}-{preset}",
            model=name,
            family=spec.family,
            dataset=str(cfg.data.get("name")),
            split="inputs: Task.example_inputs(1) for latency, (batch) for throughput; initial weights",
            metric="p50_ms_batch1",
            values=[base["p50_ms_batch1"]],
            seeds=[0],
            wall_time_s=time.perf_counter() - t0,
            higher_is_better=False,
            baselines=baselines,
            config={"preset": preset, "model": cfg.model, "batch": args.batch, "threads": args.threads},
            precision="32-true (eager fp32 row; the others as named)",
            notes="latency of a batch of 1 in ms (median call); examples_per_s at the throughput batch",
            extra={"runtimes": rows, "params": res["params"], "throughput_batch": args.batch},
        )


if __name__ == "__main__":
    main()
