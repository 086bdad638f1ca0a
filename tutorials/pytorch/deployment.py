# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Deployment: TorchScript, ONNX, int8 quantisation, `torch.compile`, and serving over HTTP
#
# A trained model leaves Python's eager mode in several ways, each with its own trade-off:
#
# | path | what it produces | runs without Python's torch? |
# |---|---|---|
# | TorchScript (`torch.jit.script`) | a serialised TorchScript program | yes, in libtorch (C++); deprecated |
# | ONNX (`torch.onnx.export`) | a standard graph file | yes, in onnxruntime and many other runtimes |
# | dynamic int8 quantisation | the same module with int8 weights in its `Linear` layers | no |
# | `torch.compile` | the same module, traced by TorchDynamo and compiled by a backend | no |
#
# The model is an MLP trained on scikit-learn's digits with `dlzoo.train`. Each path is measured
# against eager PyTorch on this CPU (one thread): latency for one example and for the whole test set,
# test accuracy, and how far its outputs are from eager's. Then the run is served with dlzoo's FastAPI
# app and called over HTTP; the served predictions must equal the eager ones.

# %%
import copy
import io
import logging
import os
import statistics
import time
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import onnxruntime as ort
import torch
from torch import nn

import dlzoo
from dlzoo.data import load_dataset

torch.set_num_threads(1)
RUNS = Path("runs")

# %% [markdown]
# ## The model
#
# Two hidden layers (wider than the `tiny` preset, so that the matrix products, not Python
# overhead, dominate a batch), trained for a few epochs; the exact settings are in the overrides.
# `dlzoo.load_run` rebuilds the model from the run directory: it takes raw pixel counts, because its
# first layer standardizes them with statistics saved with the weights.

# %%
overrides = ["model.hidden=[256,256]", "train.epochs=6", "train.progress=false", "train.seed=0"]
t0 = time.perf_counter()
run = dlzoo.train("mlp_classifier", preset="tiny", overrides=overrides, runs_dir=RUNS)
print(f"trained in {time.perf_counter() - t0:.1f} s: test accuracy {run.metrics['test/accuracy']:.4f}, run {run.path}")

model = dlzoo.load_run(run.path).model.eval()  # eager PyTorch, the reference for everything below
test = load_dataset("digits").test
x_test, y_test = test.x, test.y  # (360, 64) float32 pixel counts 0..16, (360,) labels
x_one = x_test[:1]  # (1, 64): one request
print(model)
print("test set:", tuple(x_test.shape), "| parameters:", sum(p.numel() for p in model.parameters()))


# %% [markdown]
# ## Measuring
#
# `latency` calls a function many times after a few warm-up calls and reports the median, in
# milliseconds; one example (the latency of a single request) and the whole test set (throughput).
# Every path is run on the same inputs, and its logits are compared with eager's.


# %%
def latency(fn, x, repeat=200, warmup=10):
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


results = {}


def measure(name, fn, note=""):
    """fn: (N, 64) float32 tensor -> (N, 10) logits tensor."""
    with torch.no_grad():
        logits = fn(x_test)
        results[name] = {
            "ms_1": latency(fn, x_one),
            "ms_all": latency(fn, x_test, repeat=30),
            "accuracy": (logits.argmax(1) == y_test).float().mean().item(),
            "max_diff": (logits - eager_logits).abs().max().item(),
            "agree": (logits.argmax(1) == eager_logits.argmax(1)).float().mean().item(),
            "note": note,
        }
    r = results[name]
    print(
        f"{name}: {r['ms_1']:.3f} ms for 1, {r['ms_all']:.3f} ms for {len(x_test)}; accuracy {r['accuracy']:.4f}; "
        f"max |logit - eager| {r['max_diff']:.1e}"
    )


with torch.no_grad():
    eager_logits = model(x_test)
measure("eager", model, "the reference")

# %% [markdown]
# ## TorchScript
#
# `torch.jit.script` compiles the module's Python source (control flow included) into TorchScript;
# `torch.jit.save` writes a file that `torch.jit.load`, or libtorch in C++, loads without the Python
# class definitions. TorchScript is in maintenance mode upstream (new work goes to `torch.export`),
# so its deprecation warnings are silenced here.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    scripted = torch.jit.script(model)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    loaded_ts = torch.jit.load(buffer)
print(f"TorchScript file: {buffer.getbuffer().nbytes / 1024:.0f} KiB")
measure("TorchScript", loaded_ts, "saved, reloaded")

# %% [markdown]
# ## ONNX in onnxruntime
#
# `torch.onnx.export(..., dynamo=True)` captures the model with `torch.export` and translates the
# graph to ONNX operators. The batch dimension is declared dynamic (`torch.export.Dim`), otherwise
# the example's batch size would be frozen into the graph. onnxruntime then runs the file with its
# own kernels; it is given one thread, like PyTorch. (`dlzoo export <run> --format onnx`, or
# `dlzoo.export.export_run`, does the same for any run and checks parity on other batch sizes.)

# %%
onnx_path = RUNS / "mlp.onnx"
logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # e.g. "torchvision is not installed" notices
t0 = time.perf_counter()
with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()), warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.onnx.export(
        model,
        (x_test[:2],),
        str(onnx_path),
        dynamo=True,
        external_data=False,  # weights inside the .onnx file (the default writes them beside it)
        input_names=["x"],
        output_names=["logits"],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
    )
export_s = time.perf_counter() - t0
options = ort.SessionOptions()
options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
print(f"exported in {export_s:.1f} s, {onnx_path.stat().st_size / 1024:.0f} KiB;", end=" ")
print("inputs", [(i.name, i.shape) for i in session.get_inputs()], "outputs", [o.name for o in session.get_outputs()])


def run_onnx(x):
    return torch.from_numpy(session.run(None, {"x": x.numpy()})[0])


measure("ONNX (onnxruntime)", run_onnx, "another runtime")

# %% [markdown]
# ## Dynamic int8 quantisation
#
# `torch.ao.quantization.quantize_dynamic` replaces each `nn.Linear` with a version whose weights are
# stored as int8 (one scale per tensor); activations are quantised on the fly, batch by batch, so no
# calibration data are needed. The weights take a quarter of the memory; whether it is faster depends
# on the CPU's int8 kernels and on the layer sizes, which is what the measurement is for. Rounding the
# weights changes the logits a little: the accuracy and the agreement with eager say by how much.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)
print(quantized.body[0])


def state_kib(m):
    buffer = io.BytesIO()
    torch.save(m.state_dict(), buffer)
    return buffer.getbuffer().nbytes / 1024


print(f"state_dict: float32 {state_kib(model):.0f} KiB, int8 {state_kib(quantized):.0f} KiB")
print(f"for scale: the eager test logits reach {eager_logits.abs().max():.1f} in absolute value")
measure("int8 dynamic", quantized, "int8 weights")

# %% [markdown]
# ## `torch.compile`
#
# TorchDynamo traces the Python bytecode of `forward` into an FX graph (here a single graph, no graph
# breaks), and a backend compiles it. The default backend, inductor, generates C++ kernels and compiles
# them with the system compiler; on a cold cache that compilation took far longer than this notebook's
# time budget on the CPU it was written on, even for this small model, so the notebook uses the
# `aot_eager` backend by default: Dynamo's capture and AOTAutograd, running PyTorch's own kernels.
# Set `TUTORIAL_INDUCTOR=1` to measure inductor instead (the compile time is printed either way).
# Compilation is lazy: it happens at the first call, and again when a new input shape arrives.

# %%
backend = "inductor" if os.environ.get("TUTORIAL_INDUCTOR") == "1" else "aot_eager"
explanation = torch._dynamo.explain(model)(x_one)
print(f"Dynamo: {explanation.graph_count} graph(s), {explanation.graph_break_count} graph break(s)")
compiled = torch.compile(model, backend=backend)
t0 = time.perf_counter()
with torch.no_grad():
    compiled(x_one)
    compiled(x_test)
compile_s = time.perf_counter() - t0
print(f"torch.compile(backend={backend!r}): first calls (compilation) {compile_s:.1f} s")
measure(f"torch.compile ({backend})", compiled, f"compile {compile_s:.1f} s")

# %% [markdown]
# ## The table
#
# Median latency in milliseconds on this CPU with one thread, test accuracy, the largest difference
# of a logit from eager's, and the share of test examples whose predicted class equals eager's.

# %%
print(
    f"{'path':26s} {'1 example ms':>12s} {f'{len(x_test)} examples ms':>16s} {'accuracy':>9s} {'max diff':>9s} "
    f"{'agree':>6s}  note"
)
for name, r in results.items():
    print(
        f"{name:26s} {r['ms_1']:12.3f} {r['ms_all']:16.3f} {r['accuracy']:9.4f} {r['max_diff']:9.1e} "
        f"{r['agree']:6.3f}  {r['note']}"
    )

# %% [markdown]
# ## Serving over HTTP
#
# `dlzoo.serve.create_app(runs_dir)` builds a FastAPI app that serves every finished run in the folder;
# `mlp_classifier` names the latest run of that model. FastAPI's `TestClient` calls the app in-process
# through real HTTP requests and responses (no socket), so the code below is what a client of
# `dlzoo serve` sends. `max_wait_ms=0` turns off the micro-batching wait (the server would otherwise
# hold the first request a few milliseconds to batch it with concurrent ones).

# %%
with warnings.catch_warnings():  # Starlette's notice about its httpx-based test client
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from dlzoo.serve import create_app  # noqa: E402

app = create_app(RUNS, max_wait_ms=0.0)
with TestClient(app) as client:
    print("GET /healthz ->", client.get("/healthz").json())
    info = client.get("/v1/models/mlp_classifier").json()
    print("model:", info["model"], "| input shape", info["input_shape"], "| verbs", info["verbs"])
    body = {"inputs": x_test.tolist()}
    response = client.post("/v1/models/mlp_classifier/predict", json=body)
    assert response.status_code == 200, response.text
    served = response.json()

    one = {"inputs": x_one.tolist()}
    http_ms = latency(lambda b: client.post("/v1/models/mlp_classifier/predict", json=b), one, repeat=50, warmup=5)
    bad = client.post("/v1/models/mlp_classifier/predict", json={"inputs": [[1.0, 2.0]]})
    print("a wrong shape gets", bad.status_code, "->", bad.json()["detail"][:100])
print(f"served {len(served['labels'])} predictions; one-example request over HTTP: median {http_ms:.2f} ms")
print("first labels:", served["labels"][:10], "| class names:", served["class_names"][:10])

# %% [markdown]
# ## Check
#
# The served labels must be exactly eager PyTorch's argmax, and the served probabilities its softmax.
# The exported and compiled paths must reproduce eager's predictions; quantisation may flip a few
# borderline examples, so its accuracy is only required to stay within `INT8_TOLERANCE` of eager's.

# %%
eager_labels = eager_logits.argmax(1)
served_labels = torch.tensor(served["labels"])
prob_gap = (torch.tensor(served["probabilities"]) - eager_logits.softmax(1)).abs().max().item()
print(f"served labels equal eager's: {torch.equal(served_labels, eager_labels)}; max probability gap {prob_gap:.1e}")
INT8_TOLERANCE = 0.02
print(
    f"accuracy: eager {results['eager']['accuracy']:.4f}, int8 {results['int8 dynamic']['accuracy']:.4f} "
    f"(tolerance {INT8_TOLERANCE})"
)
assert torch.equal(served_labels, eager_labels)
assert prob_gap < 1e-5
for name, r in results.items():
    if name != "int8 dynamic":
        assert r["agree"] == 1.0 and r["max_diff"] < 1e-4, (name, r)
assert abs(results["int8 dynamic"]["accuracy"] - results["eager"]["accuracy"]) <= INT8_TOLERANCE
assert results["eager"]["accuracy"] > 0.9
