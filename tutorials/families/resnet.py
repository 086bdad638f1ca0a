# %% [markdown]
# # resnet: a residual network on 8x8 digit images
#
# A residual block learns a correction to its input, y = x + F(x), instead of a whole new map
# y = F(x). The identity path carries the signal and the gradient through every block, which is what
# lets very deep stacks train: He et al. (2016) showed that a plain stack of the same layers gets a
# *higher training error* as it gets deeper (the degradation problem), and that the shortcuts remove
# it. `resnet2d` is the CIFAR-style ResNet (three stages of basic blocks) on images; every model of
# the family has `model.residual` to remove the shortcuts and compare. Theory, the degradation
# study and its results: [the resnet family README](../../src/dlzoo/families/resnet/README.md).

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
MODEL = "resnet2d"

# %% [markdown]
# ## Data: the tiny preset's 8x8 digits as (1, 8, 8) images in [0, 1]

# %%
cfg = dlzoo.resolve_config(MODEL, preset="tiny")
params = dict(cfg.data)
data = load_dataset(params.pop("name"), **params)
print(cfg.data, data.info.splits)
chance = torch.bincount(data.test.y).max().item() / len(data.test.y)
print(f"chance (majority class on test): {chance:.3f}")
print("model settings:", cfg.model)

# %% [markdown]
# ## Train, with and without the shortcuts
#
# The same preset twice: once as is, once with `model.residual=false` (the same layers, stacked
# plainly). At this depth both train; the README's depth study is where they part.

# %%
run = dlzoo.train(MODEL, preset="tiny", overrides=["train.progress=false"], runs_dir=RUNS, name="residual")
plain = dlzoo.train(
    MODEL, preset="tiny", overrides=["train.progress=false", "model.residual=false"], runs_dir=RUNS, name="plain"
)
for r in (run, plain):
    print(r.path.name, {k: round(v, 4) for k, v in r.metrics.items() if k.startswith("test/")})

# %% [markdown]
# ## Plots of the residual run

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

# %%
loaded = dlzoo.load_run(run.path)
out = inference.predict(loaded, data.test.x[:8])
print("predicted:", out["labels"])
print("true:     ", data.test.y[:8].tolist())

# %% [markdown]
# ## Serve
#
# Both runs are served: `resnet2d` alone means the newest, `resnet2d@plain` names one run.

# %%
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    print([m["name"] for m in client.get("/v1/models").json()["models"]])
    served = client.post(f"/v1/models/{MODEL}@residual/predict", json={"inputs": data.test.x.tolist()}).json()
served_accuracy = float(np.mean(np.array(served["labels"]) == data.test.y.numpy()))
print(served["model"], f"served accuracy: {served_accuracy:.4f}")

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

# %%
accuracy = run.metrics["test/accuracy"]
print(f"test accuracy {accuracy:.4f} vs chance {chance:.3f}")
assert accuracy > 0.8, accuracy  # trained tiny resnet2d: ~0.97; chance ~0.1
assert abs(served_accuracy - accuracy) < 1e-6 and abs(onnx_accuracy - accuracy) < 1e-6
