# %% [markdown]
# # meta: MAML on sinusoid regression, adapted through `/adapt`
#
# Meta-learning trains an initialization theta that a few gradient steps on a new task's K examples
# (its support set) turn into a good model for that task. MAML (Finn et al. 2017) optimizes the
# query loss *after* the inner steps, backpropagating through them (second order). The classic
# demo: each task is a sinusoid y = A sin(x - phi) with A in [0.1, 5] and phi in [0, pi]; from K = 10
# points the adapted network must draw the whole curve. Theory, FOMAML, Reptile, ANIL, ProtoNets and
# Baseline++: [the meta family README](../../src/dlzoo/families/meta/README.md).

# %%
from pathlib import Path

import torch
from fastapi.testclient import TestClient
from IPython.display import Image, display

import dlzoo
import dlzoo.evaluate
import dlzoo.serve
from dlzoo.data import load_dataset
from dlzoo.data.fewshot import EpisodeSampler

torch.set_num_threads(1)
RUNS = Path("runs")
MODEL = "maml"
# the tiny preset: 2 rounds of 20 meta-updates of 5 tasks; 8 rounds, a larger meta lr and alpha (seconds)
OVERRIDES = [
    "train.progress=false",
    "train.epochs=8",
    "train.lr=0.01",
    "task.k_shot=10",
    "task.inner_lr=0.02",
    "task.meta_batches_per_round=25",
]

# %% [markdown]
# ## Data: a distribution of tasks, not a dataset
#
# An episode is one sinusoid: K support points to adapt on, and query points to score the adapted
# model. The sampler draws them from a generator seeded by (seed, round), so a resumed run sees the
# same tasks; evaluation uses fixed episodes, the same for every run.

# %%
data = load_dataset("sinusoid")
print(data.info.split_note)
sampler = EpisodeSampler(data, n_way=1, k_shot=10, n_query=50, seed=0)
task = next(sampler.fixed("test", 1))
amplitude, phase = task.classes.tolist()
print(f"a test task: A={amplitude:.2f}, phase={phase:.2f}; support {tuple(task.support_x.shape)}")

# %% [markdown]
# ## Train (second-order MAML, Adam on the meta-gradient)

# %%
run = dlzoo.train(MODEL, preset="tiny", overrides=OVERRIDES, runs_dir=RUNS)
print({k: round(v, 4) for k, v in run.metrics.items() if k.startswith("test/")})

# %% [markdown]
# ## Plots: learning curves, and the adapted curves (Finn et al. 2017, Fig. 2)

# %%
for png in sorted((run.path / "plots").glob("*.png")):
    print(png.name)
    display(Image(filename=str(png)))

# %% [markdown]
# ## Evaluate (rebuilt from config.yaml + model.safetensors)
#
# `test/mse`: the mean query MSE over 20 fixed test tasks after `task.eval_inner_steps` (10) inner
# steps; `test/mse_ci95`: the half-width of its 95% confidence interval.

# %%
metrics = dlzoo.evaluate.evaluate_run(run.path)
print({k: round(v, 4) for k, v in metrics.items() if k.startswith("test/")})

# %% [markdown]
# ## Serve: `POST /v1/models/maml/adapt`
#
# The body holds the support set (inputs and targets), the queries and the inner steps; the server
# adapts a copy of the weights and answers the query predictions. The served weights stay as they were.


# %%
def query_mse(client: TestClient, steps: int) -> float:
    body = {
        "support_inputs": task.support_x.tolist(),
        "support_labels": task.support_y.flatten().tolist(),
        "queries": task.query_x.tolist(),
        "inner_steps": steps,
    }
    out = client.post(f"/v1/models/{MODEL}/adapt", json=body).json()
    return torch.nn.functional.mse_loss(torch.tensor(out["predictions"]), task.query_y.flatten()).item()


with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    mse = {steps: query_mse(client, steps) for steps in (0, 1, 10)}
    bad = client.post(
        f"/v1/models/{MODEL}/adapt", json={"support_inputs": [[0.0]], "support_labels": [1.0, 2.0], "queries": [[0.0]]}
    )
    print(bad.status_code, bad.json()["detail"])
print({f"{k} steps": round(v, 3) for k, v in mse.items()})

# %% [markdown]
# ## Result
#
# Ten inner steps on the 10 support points must lower the query error of this unseen task well below
# that of the meta-learned initialization alone.

# %%
assert mse[10] < 0.7 * mse[0], mse

# %% [markdown]
# ## The other models: Omniglot recipes and few-shot adapters
#
# The family also has Prototypical / Matching Networks and Chen et al.'s `baseline` (linear head) and
# `baseline_pp` (cosine head). For Lake et al.'s 20 within-alphabet one-shot runs:
# `dlzoo train protonet --preset omniglot_lake` (1-shot, up to 60 ways, episodes drawn within one
# alphabet, `task.within_alphabet=true`; every training image with a random affine distortion,
# `task.augment=affine`, Koch et al. 2015). Few-shot adapters (TSA, Li et al. 2022): `task.adapter=film`
# or `residual` on `baseline` / `baseline_pp` fits small adapters with the new head on each support
# set, the backbone frozen (`baseline_pp --preset omniglot_tsa_5w1s`). Below, an untrained `baseline`
# and one 3-way support set of generated strokes: the adapters and head lower the support loss and
# leave the model's weights as they were.

# %%
from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.families.meta.baseline import BaselinePPObjective  # noqa: E402
from dlzoo.families.meta.presets import baseline  # noqa: E402

strokes = load_dataset("omniglot_synthetic", num_classes=12, per_class=6)
episode = strokes.pools["train"].episode(torch.Generator().manual_seed(0), n_way=3, k_shot=2, n_query=2)
torch.manual_seed(0)
net = baseline(input_shape=(1, 28, 28), num_train_classes=8, hidden=16).eval()
weights = {k: v.clone() for k, v in net.state_dict().items()}
tsa = BaselinePPObjective(BaselinePPObjective.Config(adapter="residual", finetune_steps=30, finetune_lr=0.1))
loss = torch.nn.functional.cross_entropy
with torch.no_grad():
    losses = {
        steps: loss(
            tsa.predict(net, tsa.adapt(net, episode.support_x, episode.support_y, steps=steps), episode.support_x),
            episode.support_y,
        ).item()
        for steps in (0, 30)
    }
print({f"support loss after {k} steps": round(v, 3) for k, v in losses.items()})
assert losses[30] < losses[0] and all(torch.equal(weights[k], v) for k, v in net.state_dict().items())

# %% [markdown]
# Affine distortions of training episodes (`task.augment=affine`, Koch et al. 2015): each image gets its
# own small rotation, shear, scale and shift, drawn from a generator seeded by (seed, round), so the same
# round gives the same distortions; labels and the support/query split stay those of the episode.

# %%
from dlzoo.data.affine import AffineJitter  # noqa: E402
from dlzoo.data.fewshot import EpisodeSampler  # noqa: E402

kw = {"n_way": 3, "k_shot": 1, "n_query": 2, "seed": 0}
plain = next(EpisodeSampler(strokes, **kw).round(0, count=1, meta_batch_size=1))[0]
warped = next(EpisodeSampler(strokes, augment=AffineJitter(), **kw).round(0, count=1, meta_batch_size=1))[0]
again = next(EpisodeSampler(strokes, augment=AffineJitter(), **kw).round(0, count=1, meta_batch_size=1))[0]
print("mean |distorted - original| per pixel:", round((warped.query_x - plain.query_x).abs().mean().item(), 3))
assert torch.equal(warped.query_y, plain.query_y) and torch.equal(warped.query_x, again.query_x)
