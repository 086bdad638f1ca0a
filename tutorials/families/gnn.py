# %% [markdown]
# # gnn: a graph convolutional network on Zachary's karate club
#
# A graph neural network updates each node from its neighbours. One GCN layer (Kipf & Welling 2017)
# is H' = ReLU(D^-1/2 (A + I) D^-1/2 H W): every node averages its own and its neighbours' features
# (symmetric degree normalization), then applies a shared linear map. Two layers let a label travel
# two hops, so a few labelled nodes can classify the rest of the graph (semi-supervised, transductive
# node classification). Theory, the other operators (GAT, GraphSAGE, GIN) and the Cora results:
# [the gnn family README](../../src/dlzoo/families/gnn/README.md).

# %%
from pathlib import Path

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
MODEL = "gcn"

# %% [markdown]
# ## Data
#
# The karate club (shipped with networkx, no download): 34 members, the friendships as edges, and the
# faction each member joined after the club split as the label. The tiny preset labels a few nodes
# per class for training and keeps others for validation and test.

# %%
cfg = dlzoo.resolve_config(MODEL, preset="tiny")
params = dict(cfg.data)
data = load_dataset(params.pop("name"), **params)
graph = data.graph
print(cfg.data)
print("nodes", graph.num_nodes, "edges (both directions)", graph.edge_index.shape[1], "features", graph.x.shape[1])
print("labelled for training:", int(data.train_mask.sum()), " test nodes:", int(data.test_mask.sum()))
test_nodes = data.test_mask.nonzero().squeeze(1)
test_labels = graph.y[test_nodes]
chance = torch.bincount(test_labels).max().item() / len(test_labels)
print(f"chance (majority class on the test nodes): {chance:.3f}")

# %% [markdown]
# ## Train

# %%
run = dlzoo.train(MODEL, preset="tiny", overrides=["train.progress=false"], runs_dir=RUNS)
print(run.path)
print({k: round(v, 4) for k, v in run.metrics.items() if k.startswith("test/")})

# %% [markdown]
# ## Plots

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
# A node classifier's input is a node of the graph it was trained on, not a tensor, so the family
# declares its own request body, `{"nodes": [ids]}`, answered by `dlzoo.inference.handle`.

# %%
loaded = dlzoo.load_run(run.path)
print("request bodies:", {verb: schema.__name__ for verb, schema in inference.requests_of(loaded.spec).items()})
out = inference.handle(loaded, "predict", {"nodes": test_nodes.tolist()})
print("predicted:", out["labels"])
print("true:     ", test_labels.tolist())

# %% [markdown]
# ## Serve: the same body over HTTP; a node id outside the graph is a 422

# %%
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    served = client.post(f"/v1/models/{MODEL}/predict", json={"nodes": test_nodes.tolist()}).json()
    bad = client.post(f"/v1/models/{MODEL}/predict", json={"nodes": [0, 99]})
    print(bad.status_code, bad.json()["detail"])
served_accuracy = (torch.tensor(served["labels"]) == test_labels).float().mean().item()
print(f"served accuracy on the test nodes: {served_accuracy:.4f}")

# %% [markdown]
# ## Export to ONNX
#
# The exported graph takes node features (N, F) and an edge list (2, E); both N and E are free.

# %%
report = dlzoo.export.export_run(run.path, fmt="onnx")
print(report.path.relative_to(run.path), "exporter", report.exporter, "max |onnx - torch| =", report.max_abs_diff)

# %% [markdown]
# ## Result

# %%
accuracy = run.metrics["test/accuracy"]
print(f"test accuracy {accuracy:.4f} vs chance {chance:.3f}")
assert accuracy > 0.7, accuracy  # trained tiny gcn: 0.90 (seeds 0-2); chance 0.5 on two factions
assert abs(served_accuracy - accuracy) < 1e-6
