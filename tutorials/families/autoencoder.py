# %% [markdown]
# # autoencoder: a variational autoencoder on 8x8 digits
#
# An autoencoder compresses x to a code and reconstructs x from it. The variational autoencoder
# (Kingma & Welling 2014) makes the code a distribution: the encoder gives q(z|x) = N(mu, sigma^2),
# the decoder gives p(x|z) (Bernoulli pixels here), and training maximizes the evidence lower bound
# ELBO = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)). The KL term keeps the codes close to the prior, so
# decoding z ~ N(0, I) gives new samples. Theory and the other autoencoders (denoising, sparse,
# contractive): [the autoencoder family README](../../src/dlzoo/families/autoencoder/README.md).

# %%
from pathlib import Path

import torch
import torch.nn.functional as F
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
MODEL = "vae_mlp"

# %% [markdown]
# ## Data: 8x8 digit images (1, 8, 8) in [0, 1]

# %%
cfg = dlzoo.resolve_config(MODEL, preset="tiny")
params = dict(cfg.data)
data = load_dataset(params.pop("name"), **params)
print(cfg.data, data.info.splits, tuple(data.test.x.shape))
print("model settings:", cfg.model)

# %% [markdown]
# The control is the best model that ignores how pixels depend on each other: every pixel an
# independent Bernoulli with the training set's mean. Its cross-entropy, summed over the 64 pixels,
# is the number a VAE must beat (test/nll is in the same units: nats per image).

# %%
mean_image = data.train.x.mean(0, keepdim=True).clamp(1e-4, 1 - 1e-4)  # (1, 1, 8, 8)
x = data.test.x
independent_nll = F.binary_cross_entropy(mean_image.expand_as(x), x, reduction="none").sum(dim=(1, 2, 3)).mean()
print(f"independent-pixel NLL on test: {independent_nll.item():.2f} nats per image")

# %% [markdown]
# ## Train

# %%
run = dlzoo.train(MODEL, preset="tiny", overrides=["train.progress=false"], runs_dir=RUNS)
print(run.path)
print({k: round(v, 4) for k, v in run.metrics.items() if k.startswith("test/")})

# %% [markdown]
# ## Plots: learning curves, reconstructions of test images, samples from the prior

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
# ## Sample and reconstruct
#
# A generative model serves `sample` (decode z ~ N(0, I); the seed decides the samples) and
# `reconstruct` (encode, then decode the mean code).

# %%
loaded = dlzoo.load_run(run.path)
samples = inference.sample(loaded, n=4, seed=0)
recon = inference.reconstruct(loaded, x[:4])
print("samples", tuple(samples.shape), "in", [round(samples.min().item(), 3), round(samples.max().item(), 3)])
print("reconstruction MSE per pixel on 4 test images:", round(((recon - x[:4]) ** 2).mean().item(), 4))

# %% [markdown]
# ## Serve: `/sample {"n", "seed"}` and `/reconstruct {"inputs"}`

# %%
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    served = client.post(f"/v1/models/{MODEL}/sample", json={"n": 4, "seed": 0}).json()
    rec = client.post(f"/v1/models/{MODEL}/reconstruct", json={"inputs": x[:4].tolist()}).json()
    bad = client.post(f"/v1/models/{MODEL}/reconstruct", json={"inputs": (x[:1] * 16).tolist()})
    print(bad.status_code, bad.json()["detail"])
print("served sample shape", served["shape"], " reconstruction shape", rec["shape"])

# %% [markdown]
# ## Export to ONNX
#
# The exported graph is the model's forward pass on an image batch (its outputs: the decoder's
# logits and the code's mean and log-variance).

# %%
report = dlzoo.export.export_run(run.path, fmt="onnx")
print(report.path.relative_to(run.path), "outputs", report.outputs, "max |onnx - torch| =", report.max_abs_diff)

# %% [markdown]
# ## Result
#
# The VAE's test NLL (importance-weighted estimate) must sit clearly below the independent-pixel
# control: that gap is what the latent code explains about how pixels co-vary.

# %%
nll = run.metrics["test/nll"]
print(f"VAE test NLL {nll:.2f} vs independent pixels {independent_nll.item():.2f} nats per image")
assert nll < independent_nll.item() - 2.0, nll  # trained tiny VAE: ~4 nats below (seeds 0-2, spread 0.03)
torch.testing.assert_close(torch.tensor(served["samples"]), samples, rtol=1e-5, atol=1e-6)
