# %% [markdown]
# # ssl: SimCLR on 8x8 digits, without labels
#
# Self-supervised learning trains an encoder f from unlabelled data: each image is augmented twice
# (random crops and small rotations here) and the encoder learns to map the two views close together.
# SimCLR (Chen et al. 2020) does it contrastively: among the 2B views of a batch, each view must pick
# out its twin (the NT-Xent / InfoNCE loss), which also pushes different images apart. Labels are used
# only afterwards, to judge the frozen representation: a linear probe, k-NN, a probe on 100 labels.
# Theory of SimCLR, BYOL, SimSiam, Barlow Twins and VICReg:
# [the ssl family README](../../src/dlzoo/families/ssl/README.md).

# %%
from pathlib import Path

import torch
from fastapi.testclient import TestClient
from IPython.display import Image, display

import dlzoo
import dlzoo.export
import dlzoo.serve
from dlzoo.data import load_dataset
from dlzoo.metrics.representation import effective_rank, knn_accuracy

torch.set_num_threads(1)
RUNS = Path("runs")
MODEL = "simclr"

# %% [markdown]
# ## Data: 8x8 digit images (1, 8, 8) in [0, 1]; training sees x only

# %%
cfg = dlzoo.resolve_config(MODEL, preset="tiny")
params = dict(cfg.data)
data = load_dataset(params.pop("name"), **params)
print(cfg.data, data.info.splits, tuple(data.test.x.shape))
print("task settings:", cfg.task)

# %% [markdown]
# ## The control: the same encoder, untrained
#
# A random convolutional encoder is already a fair feature extractor for digits; the question is how
# much self-supervision adds. Its 20-NN accuracy on cosine similarity:

# %%
torch.manual_seed(0)
random_model = dlzoo.create_model(MODEL, input_shape=(1, 8, 8), **cfg.model_args()).eval()
with torch.no_grad():
    h_train, h_test = random_model.embed(data.train.x), random_model.embed(data.test.x)
random_knn = knn_accuracy(h_train, data.train.y, h_test, data.test.y, k=20)
print(f"random encoder: 20-NN accuracy {random_knn:.3f}, effective rank {effective_rank(h_test):.1f}")

# %% [markdown]
# ## Train (SimCLR, 3 epochs of the tiny preset)

# %%
run = dlzoo.train(MODEL, preset="tiny", overrides=["train.progress=false"], runs_dir=RUNS)
print(run.path)
print({k: round(v, 4) for k, v in run.metrics.items() if k.startswith("test/")})

# %% [markdown]
# `train/effective_rank` (RankMe) is logged while training: a method that collapses (every image
# mapped to one point) drops to 1, and the run warns in its log and its card.

# %%
for png in sorted((run.path / "plots").glob("*.png")):
    print(png.name)
    display(Image(filename=str(png)))

# %% [markdown]
# ## Serve: `/embed` and `/similar`

# %%
x = data.test.x[:2]
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    emb = client.post(f"/v1/models/{MODEL}/embed", json={"inputs": x.tolist()}).json()
    near = client.post(f"/v1/models/{MODEL}/similar", json={"inputs": x.tolist(), "k": 5}).json()
    bad = client.post(f"/v1/models/{MODEL}/embed", json={"inputs": torch.rand(1, 1, 7, 7).tolist()})
    print(bad.status_code, bad.json()["detail"])
print("embedding shape", emb["shape"])
print("true labels", data.test.y[:2].tolist(), "labels of the 5 nearest training images", near["labels"])

# %% [markdown]
# ## Export to ONNX (outputs: the representation h and the projection z)

# %%
report = dlzoo.export.export_run(run.path, fmt="onnx")
print(report.path.relative_to(run.path), "outputs", report.outputs, "max |onnx - torch| =", report.max_abs_diff)

# %% [markdown]
# ## Result
#
# Three epochs of SimCLR on about 1400 unlabelled images must beat the untrained encoder's k-NN accuracy.

# %%
knn = run.metrics["test/knn_20_accuracy"]
print(f"SimCLR 20-NN accuracy {knn:.3f} vs random encoder {random_knn:.3f}")
assert knn > random_knn + 0.02, (knn, random_knn)  # measured: 0.947 vs 0.897 (seed 0)
