# %% [markdown]
# # continual: catastrophic forgetting, and replay against it, on Split digits
#
# A network trained on one task after another forgets the earlier ones: nothing in the new task's
# loss refers to them. Here the 10 digits of scikit-learn's 8 x 8 set are cut into 5 tasks of two
# classes (Split digits, the small cousin of Split MNIST) in the hardest scenario, class-incremental
# learning: at test time the network must tell all 10 digits apart, without being told the task.
# Fine-tuning (`cl_finetune`) is the lower bound; experience replay from a 100-example reservoir
# (`cl_replay`) keeps the old tasks; PackNet (`cl_packnet`) freezes a sub-network per task. Theory,
# EWC, SI, LwF, A-GEM, GDumb, iCaRL and the three scenarios:
# [the continual family README](../../src/dlzoo/families/continual/README.md).

# %%
import json
from pathlib import Path

import torch
from fastapi.testclient import TestClient
from IPython.display import Image, display

import dlzoo
import dlzoo.serve
from dlzoo.data import load_dataset
from dlzoo.data.streams import make_stream

torch.set_num_threads(1)
RUNS = Path("runs")
OVERRIDES = ["train.progress=false", "train.epochs=3"]  # 3 epochs of each task (seconds)

# %% [markdown]
# ## The stream: five tasks of two digits
#
# The stream definition is data: the run config's `task:` section (protocol, classes, scenario), kept
# in config.yaml and eval.json. In class-IL the output unit of digit d is unit d, and while task i
# trains only the units of the tasks seen so far are active.

# %%
digits = load_dataset("digits_images")
stream = make_stream(digits, protocol="split", scenario="class", classes=[[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]])
for t in stream.tasks:
    print(f"task {t.index}: classes {t.classes}, {len(t.splits['train'])} train / {len(t.splits['test'])} test")

# %% [markdown]
# ## Train fine-tuning and replay (the same seed, the same batches)

# %%
runs = {m: dlzoo.train(m, preset="tiny", overrides=OVERRIDES, runs_dir=RUNS) for m in ("cl_finetune", "cl_replay")}
for m, run in runs.items():
    print(m, {k: round(v, 3) for k, v in run.metrics.items() if k.startswith("test/") and "task" not in k})

# %% [markdown]
# ## The accuracy matrix R[i, j] and the per-task curves
#
# Row i: the accuracy on every task after training task i. Fine-tuning's matrix is a diagonal: each
# task is learned, then lost as soon as the next one starts. Replay keeps the lower triangle.

# %%
for m, run in runs.items():
    for name in ("accuracy_matrix.png", "task_curves.png"):
        print(m, name)
        display(Image(filename=str(run.path / "plots" / name)))

# %% [markdown]
# ## Serve: `/predict` with a task id
#
# With `task_id` the answer is that task's head (here: its two digits); a task the model never saw is
# refused with a 422.

# %%
x = digits.test.x[:8]
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    anywhere = client.post("/v1/models/cl_replay/predict", json={"inputs": x.tolist()}).json()
    in_task = client.post("/v1/models/cl_replay/predict", json={"inputs": x.tolist(), "task_id": 1}).json()
    bad = client.post("/v1/models/cl_replay/predict", json={"inputs": x.tolist(), "task_id": 7})
print("true      ", digits.test.y[:8].tolist())
print("any class ", anywhere["labels"])
print("task 1    ", in_task["labels"], "(units", in_task["units"], ")")
print(bad.status_code, bad.json()["detail"])

# %% [markdown]
# ## Result
#
# After the last task, fine-tuning has forgotten task 0 entirely; the reservoir keeps it.

# %%
first = {m: json.loads((run.path / "eval.json").read_text())["test/acc_task0"] for m, run in runs.items()}
print(first)
assert first["cl_finetune"] < 0.2 and first["cl_replay"] > 0.8, first

# %% [markdown]
# ## PackNet: a frozen sub-network per task (task-IL)
#
# `cl_packnet` keeps a quarter of the free weights for each task (pruning by magnitude), retrains
# them, and freezes them; task j runs only on the weights of tasks 0..j. Its test needs the task id
# (task-IL), and once task j is finished nothing it uses is written again: column j of R is constant.

# %%
pack = dlzoo.train("cl_packnet", preset="tiny", overrides=OVERRIDES, runs_dir=RUNS)
R = torch.tensor(json.loads((pack.path / "eval.json").read_text())["accuracy_matrix"])
print(R.numpy().round(3))
assert all(torch.equal(R[j:, j], R[j, j].expand(5 - j)) for j in range(5))
