# %% [markdown]
# # mlp: a multilayer perceptron on 8x8 digits
#
# A multilayer perceptron stacks affine maps and non-linearities, h_{l+1} = ReLU(W_l h_l + b_l), and
# ends in one logit per class; training minimizes the cross-entropy of softmax(logits) against the
# labels. dlzoo's `mlp_classifier` standardizes the features inside the model (mean and std fitted on
# the training split), so a served model takes raw inputs. Theory, presets and metrics:
# [the mlp family README](../../src/dlzoo/families/mlp/README.md).
#
# This notebook trains the `tiny` preset on scikit-learn's bundled 8x8 digits (no download), looks at
# its plots, re-evaluates it, predicts in Python and over HTTP, exports it to ONNX, and checks the
# accuracy against chance.

# %%
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from fastapi.testclient import TestClient
from IPython.display import Image, display

import dlzoo
import dlzoo.evaluate
import dlzoo.export
import dlzoo.serve
from dlzoo import inference
from dlzoo.data import load_dataset

torch.set_num_threads(1)  # tiny models: one thread is fastest
RUNS = Path("runs")  # every run goes to runs/<model>/<timestamp>/

# %% [markdown]
# ## Data
#
# 1797 grey-level images of 8x8 pixels (values 0..16), flattened to 64 features, ten classes.

# %%
data = load_dataset("digits")
print("splits:", data.info.splits)
print("x:", tuple(data.train.x.shape), data.train.x.dtype, "max", data.train.x.max().item())
print("class counts (train):", torch.bincount(data.train.y).tolist())
chance = torch.bincount(data.test.y).max().item() / len(data.test.y)  # always answering the commonest class
print(f"chance (majority class on test): {chance:.3f}")

# %% [markdown]
# ## Train
#
# `dlzoo.train` takes the CLI's options: the model, a preset, dotted overrides. The `tiny` preset is a
# single hidden layer of 64 units; `dlzoo info mlp_classifier` lists every setting.

# %%
run = dlzoo.train("mlp_classifier", preset="tiny", overrides=["train.progress=false"], runs_dir=RUNS)
print(run.path)
print({k: round(v, 4) for k, v in run.metrics.items() if k.startswith("test/")})

# %% [markdown]
# ## Plots
#
# The run directory holds the learning curves (`train/loss` per logged step, the validation or test
# metrics per epoch) and the confusion matrix of the test split.

# %%
for png in sorted((run.path / "plots").glob("*.png")):
    print(png.name)
    display(Image(filename=str(png)))

# %% [markdown]
# ## Evaluate
#
# `evaluate_run` rebuilds the model from `config.yaml` and `model.safetensors` alone and evaluates it
# again; it reproduces `eval.json`.

# %%
metrics = dlzoo.evaluate.evaluate_run(run.path)
print({k: round(v, 4) for k, v in metrics.items() if k.startswith("test/")})
assert abs(metrics["test/accuracy"] - run.metrics["test/accuracy"]) < 1e-6

# %% [markdown]
# ## Predict
#
# `dlzoo.load_run` gives the model back; `dlzoo.inference.predict` validates the inputs (shape, finite
# values) and returns labels and class probabilities.

# %%
loaded = dlzoo.load_run(run.path)
out = inference.predict(loaded, data.test.x[:8])
print("predicted:", out["labels"])
print("true:     ", data.test.y[:8].tolist())
print("p(max):   ", [round(max(p), 3) for p in out["probabilities"]])

# %% [markdown]
# ## Serve
#
# `dlzoo serve --runs runs/` starts this FastAPI app; here FastAPI's test client calls it in-process.
# `POST /v1/models/mlp_classifier/predict` takes `{"inputs": [[64 numbers], ...]}`.

# %%
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    print(client.get("/v1/models").json()["models"][0]["verbs"])
    reply = client.post("/v1/models/mlp_classifier/predict", json={"inputs": data.test.x.tolist()})
    print(reply.status_code)
    served = reply.json()
    bad = client.post("/v1/models/mlp_classifier/predict", json={"inputs": [[1.0, 2.0]]})
    print(bad.status_code, bad.json()["detail"])
served_accuracy = float(np.mean(np.array(served["labels"]) == data.test.y.numpy()))
print(f"served accuracy on the {len(data.test.y)} test images: {served_accuracy:.4f}")

# %% [markdown]
# ## Export
#
# `export_run` writes `export/model.onnx` (free batch dimension) and checks it against PyTorch in
# onnxruntime. The exported graph runs without dlzoo or PyTorch:

# %%
report = dlzoo.export.export_run(run.path, fmt="onnx")
print(report.path.relative_to(run.path), "max |onnx - torch| =", report.max_abs_diff)
session = ort.InferenceSession(str(report.path))
(logits,) = session.run(None, {session.get_inputs()[0].name: data.test.x.numpy()})
onnx_accuracy = float(np.mean(logits.argmax(-1) == data.test.y.numpy()))
print(f"onnxruntime accuracy: {onnx_accuracy:.4f}")

# %% [markdown]
# ## Result
#
# The trained network must be far above chance (printed in the Data section), and the three ways of
# running it (Python, HTTP, ONNX) must agree. A broken model, or a broken serving or export path, lands
# near chance.

# %%
accuracy = run.metrics["test/accuracy"]
print(f"test accuracy {accuracy:.4f} vs chance {chance:.3f}")
assert accuracy > 0.8, accuracy  # trained tiny preset: ~0.97 (seeds 0-2); chance ~0.1
assert abs(served_accuracy - accuracy) < 1e-6 and abs(onnx_accuracy - accuracy) < 1e-6
