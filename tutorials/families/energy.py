# %% [markdown]
# # energy: restricted Boltzmann machines with exact likelihoods, Hopfield memories, a Langevin EBM
#
# An RBM defines p(v) = exp(-F(v)) / Z through its free energy
# F(v) = -b^T v - sum_j softplus(c_j + W_j v). Training (contrastive divergence) needs only F and
# Gibbs sampling; the likelihood needs the partition function Z, a sum over every state. With few
# hidden units Z is exact: sum the 2^H hidden states, the visible ones summed out in closed form.
# Annealed importance sampling (AIS) estimates it for any size; here both are compared on the same
# model. A Hopfield network stores patterns as minima of an energy and retrieves them from corrupted
# copies. Theory: [the energy family README](../../src/dlzoo/families/energy/README.md).

# %%
from pathlib import Path

import torch
from fastapi.testclient import TestClient
from IPython.display import Image, display

import dlzoo
import dlzoo.serve
from dlzoo.data import load_dataset
from dlzoo.families.energy.partition import log_z_ais, log_z_exact
from dlzoo.families.energy.rbm import base_rate_bias

torch.set_num_threads(1)
RUNS = Path("runs")

# %% [markdown]
# ## Train a tiny RBM on binary 8x8 digits (CD-1, 12 hidden units, 20 epochs: seconds)

# %%
run = dlzoo.train("rbm", preset="tiny", overrides=["train.progress=false", "train.epochs=20"], runs_dir=RUNS)
print({k: round(v, 3) for k, v in run.metrics.items() if k.startswith("test/")})

# %% [markdown]
# `test/loglik_exact` is the mean test log-likelihood in nats from the exact log Z;
# `test/base_rate_loglik` is the model that only knows each pixel's mean (the AIS starting point).

# %%
for png in sorted((run.path / "plots").glob("*.png")):
    print(png.name)
    display(Image(filename=str(png)))

# %% [markdown]
# ## Exact log Z against AIS on the trained model

# %%
loaded = dlzoo.load_run(run.path)
rbm = loaded.model
exact = float(log_z_exact(rbm))
params = dict(loaded.config.data)
train_x = load_dataset(params.pop("name"), **params).train.x
ais = log_z_ais(rbm, base_rate_bias(train_x), n_chains=100, n_betas=1000, generator=torch.Generator().manual_seed(0))
print(f"log Z exact {exact:.3f}, AIS {ais.log_z:.3f} (+-3 sd: [{ais.log_z_low:.3f}, {ais.log_z_high:.3f}])")

# %% [markdown]
# ## A Hopfield network stores eight digits (pseudo-inverse rule) and retrieves them from 10% flipped bits

# %%
hop = dlzoo.train("hopfield", preset="tiny", overrides=["train.progress=false"], runs_dir=RUNS)
print({k: round(v, 3) for k, v in hop.metrics.items() if k.startswith("test/")})
display(Image(filename=str(hop.path / "plots" / "retrieval.png")))

# %% [markdown]
# ## A Langevin EBM on images: the `ebm` preset `mnist` (conv energy), here on the 8x8 digits
#
# The preset samples as Du & Mordatch (2019) do on MNIST: images in [0, 1], Langevin steps of size 10
# with noise 0.005, clamped to the box, a replay buffer. Here the same preset runs on the 8x8 digits
# (no download) with a smaller net and K = 10 steps for 2 epochs (seconds); the full run is
# `benchmarks/ebm_mnist.py`. samples.png: chains from noise above entries of the replay buffer.

# %%
ebm_over = ["data.name=digits_images", "model.channels=[8,16,16]", "model.hidden=[32]", "task.steps=10"]
ebm_over += ["task.buffer_size=500", "task.eval_steps=20", "train.lr=1e-3", "train.batch_size=32", "train.epochs=2"]
ebm_run = dlzoo.train("ebm", preset="mnist", overrides=["train.progress=false", *ebm_over], runs_dir=RUNS)
display(Image(filename=str(ebm_run.path / "plots" / "samples.png")))
digits_test = load_dataset("digits_images").test.x  # (360, 1, 8, 8) in [0, 1]
with torch.no_grad():
    energy_model = dlzoo.load_run(ebm_run.path).model
    e_digits = energy_model(digits_test)
    e_noise = energy_model(torch.rand(digits_test.shape, generator=torch.Generator().manual_seed(0)))
ranked = float((e_digits[:, None] < e_noise[None, :]).float().mean())
print(
    f"mean energy: test digits {e_digits.mean():.3f}, uniform noise {e_noise.mean():.3f}; "
    f"pairs ranked right {ranked:.3f}"
)

# %% [markdown]
# ## Serve: `/sample` (Gibbs chains), `/energy` (free energies), `/retrieve` (Hopfield)

# %%
digit = train_x[0].tolist()  # one binary 8x8 digit (1, 8, 8)
noisy = train_x[0].clone()
noisy[0, 0, :4] = 1 - noisy[0, 0, :4]  # flip four pixels
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    samples = client.post("/v1/models/rbm/sample", json={"n": 4, "steps": 200, "seed": 0}).json()
    energy = client.post("/v1/models/rbm/energy", json={"inputs": [digit]}).json()
    retrieved = client.post("/v1/models/hopfield/retrieve", json={"inputs": [noisy.tolist()]}).json()
    bad = client.post("/v1/models/rbm/energy", json={"inputs": [[0.5] * 64]})
print("samples", samples["shape"], "free energy", [round(f, 2) for f in energy["free_energy"]])
print("retrieved in", retrieved["steps"], "sweeps; exact:", torch.tensor(retrieved["patterns"][0]).equal(train_x[0]))
print(bad.status_code, bad.json()["detail"])

# %% [markdown]
# ## Result
#
# The RBM must beat the base-rate model by a clear margin, and AIS must agree with the exact log Z.

# %%
m = run.metrics
print(f"exact test log-likelihood {m['test/loglik_exact']:.2f} nats, base rate {m['test/base_rate_loglik']:.2f}")
assert m["test/loglik_exact"] > m["test/base_rate_loglik"] + 2.0  # measured: -20.1 vs -24.6 (seed 0)
assert abs(ais.log_z - exact) < 0.5, (ais.log_z, exact)
assert bad.status_code == 422
assert ranked > 0.95  # digits below noise in energy (an untrained conv energy: 0.16-0.73 over seeds)
