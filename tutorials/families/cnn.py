# %% [markdown]
# # cnn: LeNet on 8x8 digit images
#
# A convolutional network slides small learned filters over the image (weight sharing, local
# receptive fields), so a stroke is detected wherever it appears; pooling then makes the features
# tolerant to small shifts. `lenet` is the LeCun et al. (1998) layout: two conv-BatchNorm-ReLU-maxpool
# stages, a fully connected layer with dropout, and the class logits. The same family holds the
# time-series CNNs (FCN, ResNet, InceptionTime). Theory, presets and metrics:
# [the cnn family README](../../src/dlzoo/families/cnn/README.md).

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

torch.set_num_threads(1)
RUNS = Path("runs")
MODEL = "lenet"

# %% [markdown]
# ## Data
#
# The tiny preset's data: scikit-learn's 8x8 digits as images (1, 8, 8) scaled to [0, 1], no download.

# %%
cfg = dlzoo.resolve_config(MODEL, preset="tiny")
params = dict(cfg.data)
data = load_dataset(params.pop("name"), **params)
print(cfg.data, data.info.splits)
print("x:", tuple(data.test.x.shape), "values in", [data.test.x.min().item(), data.test.x.max().item()])
chance = torch.bincount(data.test.y).max().item() / len(data.test.y)
print(f"chance (majority class on test): {chance:.3f}")

# %% [markdown]
# ## Train

# %%
run = dlzoo.train(MODEL, preset="tiny", overrides=["train.progress=false"], runs_dir=RUNS)
print(run.path)
print({k: round(v, 4) for k, v in run.metrics.items() if k.startswith("test/")})
print("parameters:", sum(p.numel() for p in dlzoo.load_run(run.path).model.parameters()))

# %% [markdown]
# ## Plots: learning curves and the confusion matrix

# %%
for png in sorted((run.path / "plots").glob("*.png")):
    print(png.name)
    display(Image(filename=str(png)))

# %% [markdown]
# ## Evaluate (rebuilt from config.yaml + model.safetensors)

# %%
metrics = dlzoo.evaluate.evaluate_run(run.path)
print({k: round(v, 4) for k, v in metrics.items() if k.startswith("test/")})

# %% [markdown]
# ## Predict
#
# The first convolution's filters are the model's first layer; the predictions come from
# `dlzoo.inference.predict`.

# %%
loaded = dlzoo.load_run(run.path)
first_conv = next(m for m in loaded.model.modules() if isinstance(m, torch.nn.Conv2d))
print("first conv:", first_conv)
out = inference.predict(loaded, data.test.x[:8])
print("predicted:", out["labels"])
print("true:     ", data.test.y[:8].tolist())

# %% [markdown]
# ## Serve
#
# Images are posted as nested lists of shape (batch, 1, 8, 8); a wrong shape or a value outside the
# training range is a 422 that says what was expected.

# %%
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    served = client.post(f"/v1/models/{MODEL}/predict", json={"inputs": data.test.x.tolist()}).json()
    bad = client.post(f"/v1/models/{MODEL}/predict", json={"inputs": (data.test.x[:1] * 255).tolist()})
    print(bad.status_code, bad.json()["detail"])
served_accuracy = float(np.mean(np.array(served["labels"]) == data.test.y.numpy()))
print(f"served accuracy: {served_accuracy:.4f}")

# %% [markdown]
# ## Export to ONNX and run it in onnxruntime

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
# Test accuracy far above chance, and the same answer through Python, HTTP and ONNX.

# %%
accuracy = run.metrics["test/accuracy"]
print(f"test accuracy {accuracy:.4f} vs chance {chance:.3f}")
assert accuracy > 0.8, accuracy  # trained tiny lenet: ~0.98; chance ~0.1
assert abs(served_accuracy - accuracy) < 1e-6 and abs(onnx_accuracy - accuracy) < 1e-6
