# %% [markdown]
# # nas: architecture search on Optuna, then the winner trains and serves like any model
#
# A search space is data (a YAML mapping of run-config keys to choices); a strategy is an Optuna
# sampler (random, TPE, regularised evolution, local search); every trial trains a registered model
# through dlzoo's loop and is stored in an Optuna study. Here: a tiny TPE search over the
# NAS-Bench-201-style cell space on scikit-learn's 8x8 digits in a temporary SQLite study, the best
# cell exported as a config, trained, and served. Theory, DARTS and the benchmark:
# [the nas family README](../../src/dlzoo/families/nas/README.md).

# %%
import tempfile
from pathlib import Path

import torch
import yaml
from fastapi.testclient import TestClient

import dlzoo
import dlzoo.serve
from dlzoo.families.nas.space import SearchSpace
from dlzoo.search.driver import export_best, run_search

torch.set_num_threads(1)
WORK = Path(tempfile.mkdtemp(prefix="nas-tutorial-"))

# %% [markdown]
# ## The cell space: 3 nodes, 3 edges, 5 operations per edge -> 125 cells
#
# Each edge `j <- i` is one of none / skip_connect / nor_conv_1x1 / nor_conv_3x3 / avg_pool_3x3;
# node j sums its incoming edges; the cell's output is the last node. Here the cells are the tiny
# preset's (8 channels) trained 4 epochs each, so a trial takes about a second.

# %%
space = SearchSpace.from_dict(
    {
        "model": "nas_cell",
        "preset": "tiny",
        "fixed": {"train.epochs": 4, "train.progress": False},
        "cell": {"nodes": 3, "ops": ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]},
    },
    name="tutorial_cells",
)
print(space.size(), "cells; parameters:", list(space.distributions))

# %% [markdown]
# ## A TPE search of 8 trials in a SQLite study (`dlzoo nas run` does the same from the shell)

# %%
study = run_search(
    space,
    study_name="tutorial",
    storage_url=f"sqlite:///{WORK / 'studies.db'}",
    root=WORK,
    strategy="tpe",
    n_trials=8,
    seed=0,
)
for t in study.trials:
    print(t.number, f"{t.value:.3f}", t.user_attrs["overrides"]["model.genotype"])
print("best:", study.best_trial.user_attrs["overrides"]["model.genotype"], f"val {study.best_value:.3f}")

# %% [markdown]
# ## Export the best trial and train it as an ordinary run

# %%
best_yaml = export_best(study, WORK / "best.yaml")
print(best_yaml.read_text())
raw = yaml.safe_load(best_yaml.read_text())
genotype = raw["model"]["genotype"]
run = dlzoo.train(
    "nas_cell",
    preset="tiny",
    overrides=[f"model.genotype={genotype}", "train.progress=false"],
    runs_dir=WORK / "served",
    name="winner",
)
print(run.path, {k: round(v, 4) for k, v in run.metrics.items() if k.startswith("test/")})

# %% [markdown]
# ## Serve it: the found cell answers like any classifier

# %%
images = [[[[0.0] * 8] * 8]] * 2  # two blank 8x8 digits, shape (2, 1, 8, 8)
with TestClient(dlzoo.serve.create_app(WORK / "served")) as client:
    reply = client.post("/v1/models/nas_cell/predict", json={"inputs": images})
    print(reply.status_code, reply.json())
    bad = client.post("/v1/models/nas_cell/predict", json={"inputs": [[1.0, 2.0]]})
    print(bad.status_code, bad.json())
assert reply.status_code == 200 and bad.status_code in (400, 422)

# %%
# an all-"none" cell scores 10%; a searched cell clears 80% after the tiny preset's 10 epochs
assert run.metrics["test/accuracy"] > 0.8, run.metrics
