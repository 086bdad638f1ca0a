# %% [markdown]
# # gan: a generative adversarial network on a ring of Gaussians
#
# A GAN (Goodfellow et al. 2014) trains two networks against each other: a generator G maps noise z
# to samples, a discriminator D tells real samples from generated ones. D minimizes the cross-entropy
# of real vs fake; G uses the non-saturating loss -log D(G(z)). The classic failure is mode collapse:
# G covers a few modes of the data and ignores the rest. The 2-D ring of eight Gaussians makes it
# visible and measurable: modes captured, and the share of samples close to a mode. Theory, DCGAN,
# WGAN-GP and PacGAN: [the gan family README](../../src/dlzoo/families/gan/README.md).

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
MODEL = "gan"
# the tiny preset runs 3 epochs (60 steps); 25 epochs (500 steps, seconds) draws the ring clearly
OVERRIDES = ["train.progress=false", "train.epochs=25"]

# %% [markdown]
# ## Data: eight Gaussians (std 0.02) on a circle of radius 2

# %%
cfg = dlzoo.resolve_config(MODEL, preset="tiny", overrides=OVERRIDES)
params = dict(cfg.data)
data = load_dataset(params.pop("name"), **params)
print(cfg.data, data.info.splits, tuple(data.train.x.shape))
radius = data.train.x.norm(dim=1)
print(f"data: radius {radius.mean().item():.3f} +- {radius.std().item():.3f}")


def ring_distance(points: torch.Tensor) -> float:
    """Median distance of 2-D points to the circle of radius 2 (0 for the data, up to a few std)."""
    return (points.norm(dim=1) - 2.0).abs().median().item()


# the control: the generator's own input noise, z ~ N(0, I) (latent_dim = 2), as if G were the identity
noise = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
print(f"median distance to the ring: data {ring_distance(data.test.x):.3f}, noise {ring_distance(noise):.3f}")

# %% [markdown]
# ## Train

# %%
run = dlzoo.train(MODEL, preset="tiny", overrides=OVERRIDES, runs_dir=RUNS)
print(run.path)
print({k: round(v, 4) for k, v in run.metrics.items() if k.startswith("test/")})

# %% [markdown]
# ## Plots: the losses of both players, and generated samples over the data

# %%
for png in sorted((run.path / "plots").glob("*.png")):
    print(png.name)
    display(Image(filename=str(png)))

# %% [markdown]
# ## Evaluate (rebuilt from config.yaml + model.safetensors)
#
# `modes_captured`: modes with at least one high-quality sample (within 3 std of its center);
# `high_quality_pct`: the percentage of such samples.

# %%
metrics = dlzoo.evaluate.evaluate_run(run.path)
print({k: round(v, 4) for k, v in metrics.items() if k.startswith("test/")})

# %% [markdown]
# ## Sample

# %%
loaded = dlzoo.load_run(run.path)
samples = inference.sample(loaded, n=1000, seed=0)  # (1000, 2)
angles = torch.atan2(samples[:, 1], samples[:, 0])
nearest_mode = torch.round(angles / (2 * torch.pi / 8)).remainder(8).long()
print("samples per nearest mode:", torch.bincount(nearest_mode, minlength=8).tolist())
print(f"median distance to the ring: {ring_distance(samples):.3f}")

# %% [markdown]
# ## Serve: `POST /v1/models/gan/sample {"n": 16, "seed": 0}`

# %%
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    served = client.post(f"/v1/models/{MODEL}/sample", json={"n": 5, "seed": 0}).json()
    bad = client.post(f"/v1/models/{MODEL}/sample", json={"n": 0})
    print(bad.status_code, bad.json()["detail"])
print("served", served["shape"], [[round(v, 2) for v in p] for p in served["samples"]])

# %% [markdown]
# ## Export to ONNX
#
# The exported graph is the model's forward pass: noise z in, the generated point and the
# discriminator's score of it out.

# %%
report = dlzoo.export.export_run(run.path, fmt="onnx")
print(report.path.relative_to(run.path), "outputs", report.outputs, "max |onnx - torch| =", report.max_abs_diff)

# %% [markdown]
# ## Result
#
# The generator must have moved its samples onto the ring: the median distance to the circle far
# below the noise it starts from.

# %%
trained, control = ring_distance(samples), ring_distance(noise)
print(f"median distance to the ring: generator {trained:.3f}, control (noise) {control:.3f}")
assert trained < 0.45, trained  # 25-epoch tiny GAN: 0.11-0.27 (seeds 0-2); the noise: see the control
assert control > 0.6, control
torch.testing.assert_close(torch.tensor(served["samples"]), inference.sample(loaded, n=5, seed=0))
