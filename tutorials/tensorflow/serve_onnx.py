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
# # Export a Keras classifier to ONNX and serve it with `dlzoo serve`
#
# ONNX is a framework-neutral file format for computation graphs; onnxruntime runs it without the
# framework that produced it. So a Keras model exported with `tf2onnx` can be served by dlzoo's HTTP
# server, whose request path for such a model is NumPy and onnxruntime only: neither TensorFlow nor
# PyTorch computes the answers.
#
# The steps:
#
# 1. train a small Keras CNN on scikit-learn's 8x8 digits (dlzoo's `digits_images` split);
# 2. export it with `tf2onnx.convert.from_keras`, with a symbolic batch dimension, and check in
#    onnxruntime that the file computes what Keras computes;
# 3. describe it in a `serving.yaml` beside the file (name, task, input shape, class names, what the
#    output is), which is all `dlzoo serve` needs to serve a folder that is not a dlzoo run;
# 4. start `dlzoo serve` on that folder, ask `/v1/models` what it serves and `/predict` for the test split;
#    the served predictions must equal Keras's.

# %%
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tf2onnx  # noqa: E402

from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.serve.onnx_runs import write_serving  # noqa: E402

threads = int(os.environ.get("OMP_NUM_THREADS", "0"))
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(threads)
print(f"tensorflow {tf.__version__} | keras {keras.__version__} | tf2onnx {tf2onnx.__version__}", end=" | ")
print(f"onnxruntime {ort.__version__} | numpy {np.__version__}")

# %% [markdown]
# ## A Keras CNN on the digits
#
# dlzoo's `digits_images` are (N, 1, 8, 8) in [0, 1]; Keras's convolutions want channels last, (N, 8, 8, 1).
# The model ends in logits (no softmax layer); `serving.yaml` will say so and the server applies the
# softmax.

# %%
data = load_dataset("digits_images")
x_train = data.train.x.numpy().transpose(0, 2, 3, 1)
x_test = data.test.x.numpy().transpose(0, 2, 3, 1)
y_train, y_test = data.train.y.numpy(), data.test.y.numpy()
print("train", x_train.shape, "| test", x_test.shape, "|", data.info.split_note)

keras.utils.set_random_seed(0)
inputs = keras.Input((8, 8, 1), name="pixels")
h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
h = keras.layers.MaxPooling2D(2)(h)
h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(h)
h = keras.layers.GlobalAveragePooling2D()(h)
logits = keras.layers.Dense(10, name="logits")(h)
model = keras.Model(inputs, logits, name="digits_cnn")
model.compile(
    optimizer=keras.optimizers.Adam(3e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
t0 = time.perf_counter()
model.fit(x_train, y_train, epochs=20, batch_size=32, verbose=0)
_, keras_acc = model.evaluate(x_test, y_test, verbose=0)
print(f"trained in {time.perf_counter() - t0:.1f} s; Keras test accuracy {keras_acc:.4f}")

# %% [markdown]
# ## Export with tf2onnx, then check the file
#
# `input_signature` fixes the input's dtype and per-example shape and leaves the batch dimension free
# (`None`), so one file serves any batch size. The parity check runs the file in onnxruntime on two batch
# sizes, neither of them used at export, and compares with Keras.

# %%
serve_root = Path(tempfile.mkdtemp(prefix="dlzoo-serve-"))
folder = serve_root / "keras_digits_cnn" / "v1"
folder.mkdir(parents=True)
onnx_path = folder / "model.onnx"
spec = (tf.TensorSpec((None, 8, 8, 1), tf.float32, name="input"),)
onnx_model, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=str(onnx_path))
print(f"{onnx_path.name}: {onnx_path.stat().st_size} bytes, opset {onnx_model.opset_import[0].version}")

session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
print("graph input:", [(i.name, i.shape, i.type) for i in session.get_inputs()])
print("graph output:", [(o.name, o.shape) for o in session.get_outputs()])
for n in (7, 1):
    got = session.run(None, {"input": x_test[:n]})[0]
    want = model.predict(x_test[:n], verbose=0)
    print(f"batch of {n}: max |onnxruntime - keras| = {np.abs(got - want).max():.2e}")
    assert np.allclose(got, want, atol=1e-5)

# %% [markdown]
# ## `serving.yaml`
#
# A dlzoo run directory carries a `config.yaml` that rebuilds a PyTorch model; an exported file has no such
# thing. The server instead reads `serving.yaml` from any folder under `--runs` that has one: the served
# name (`<name>@<folder>`, and `<name>` for its newest folder), the task, the per-example input shape, the
# class names, the range of valid inputs (values outside are refused, as for dlzoo's own runs), whether the
# graph returns logits or probabilities, and optionally the data name and metrics to list.
# `write_serving` writes it and loads it back, so a shape that the graph does not take fails here already.

# %%
write_serving(
    folder,
    name="keras_digits_cnn",
    task="classify",
    input_shape=[8, 8, 1],
    outputs="logits",
    class_names=[str(d) for d in range(10)],
    input_range=[0.0, 1.0],
    data="digits_images",
    family="keras",
    description="Keras CNN for 8x8 digits, exported with tf2onnx",
    metrics={"test/accuracy": round(float(keras_acc), 4)},
)
print((folder / "serving.yaml").read_text())
print(sorted(str(p.relative_to(serve_root)) for p in serve_root.rglob("*") if p.is_file()))

# %% [markdown]
# ## `dlzoo serve`
#
# The server runs in its own process, as it would in production (`dlzoo serve --runs <folder>`; here
# `python -m dlzoo`, the same command through the interpreter of this notebook), on a free local port.
# The notebook waits for `/healthz`, then talks to it over HTTP with the standard library.

# %%
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
url = f"http://127.0.0.1:{port}"
log = open(serve_root / "server.log", "w")  # noqa: SIM115 (closed after the server stops, below)
server = subprocess.Popen(
    [sys.executable, "-m", "dlzoo", "serve", "--runs", str(serve_root), "--port", str(port)],
    stdout=log,
    stderr=subprocess.STDOUT,
)


def get(path: str) -> dict:
    with urllib.request.urlopen(url + path, timeout=30) as r:
        return json.load(r)


def post(path: str, body: dict) -> dict:
    req = urllib.request.Request(
        url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


t0 = time.perf_counter()
while True:
    try:
        health = get("/healthz")
        break
    except OSError:
        if server.poll() is not None or time.perf_counter() - t0 > 120:
            raise RuntimeError("the server did not start:\n" + (serve_root / "server.log").read_text()) from None
        time.sleep(0.5)
print(f"server up after {time.perf_counter() - t0:.1f} s:", health)
listing = get("/v1/models")
info = listing["models"][0]
print({k: info[k] for k in ("name", "aliases", "family", "task", "paradigm", "input_shape", "data", "metrics")})
print("skipped:", listing["skipped"])

# %% [markdown]
# ## Served predictions against Keras
#
# The whole test split goes in one request (as nested lists, shape (360, 8, 8, 1)). The answer holds one
# label, one probability vector and one class name per example. The labels must be Keras's, and the
# probabilities Keras's softmax of its logits, up to float32 round-off.

# %%
t0 = time.perf_counter()
served = post("/v1/models/keras_digits_cnn/predict", {"inputs": x_test.tolist()})
request_s = time.perf_counter() - t0
keras_logits = model.predict(x_test, verbose=0)
keras_probs = tf.nn.softmax(keras_logits).numpy()
served_probs = np.asarray(served["probabilities"])
served_labels = np.asarray(served["labels"])
max_diff = float(np.abs(served_probs - keras_probs).max())
served_acc = float(np.mean(served_labels == y_test))
print(f"model {served['model']}: {len(served_labels)} predictions in {request_s * 1000:.0f} ms (one request)")
print("first class names:", served["class_names"][:10])
print(f"labels equal to Keras's: {int(np.sum(served_labels == keras_logits.argmax(-1)))} of {len(served_labels)}")
print(f"max |served - keras| probability: {max_diff:.2e} | served test accuracy {served_acc:.4f}")

bad = urllib.request.Request(
    url + "/v1/models/keras_digits_cnn/predict",
    data=json.dumps({"inputs": [[0.0] * 10]}).encode(),
    headers={"Content-Type": "application/json"},
)
try:
    urllib.request.urlopen(bad, timeout=30)
except urllib.error.HTTPError as e:
    print("a wrong shape ->", e.code, json.load(e)["detail"])

# %%
server.terminate()
server.wait(timeout=30)
log.close()
print("server stopped, exit code", server.returncode)

# %% [markdown]
# ## Check
#
# The served labels are exactly Keras's, the probabilities agree to float32 round-off, and the served model
# clears the stated test accuracy.

# %%
MIN_ACCURACY = 0.9
print(f"served accuracy {served_acc:.4f} (Keras {keras_acc:.4f}) | required {MIN_ACCURACY}")
assert np.array_equal(served_labels, keras_logits.argmax(-1))
assert max_diff < 1e-5
assert served_acc >= MIN_ACCURACY and abs(served_acc - keras_acc) < 1e-6
