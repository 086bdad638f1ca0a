# %% [markdown]
# # diffusion: a denoising diffusion model on a ring of Gaussians
#
# A diffusion model (Ho et al. 2020) learns to undo a fixed noising process: the forward process adds
# Gaussian noise in T small steps until the data is N(0, I); a network eps(x_t, t) learns to predict
# the noise that was added, with the "simple" loss ||eps - eps(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t)||^2.
# Sampling runs the chain backwards from noise. The same trained network serves several samplers
# (ancestral DDPM, DDIM, the reverse SDE, the probability-flow ODE), chosen per request, and the ODE
# gives an exact likelihood. Theory: [the diffusion family README](../../src/dlzoo/families/diffusion/README.md).

# %%
from pathlib import Path

import torch
from fastapi.testclient import TestClient
from IPython.display import Image, display

import dlzoo
import dlzoo.export
import dlzoo.serve
from dlzoo import inference
from dlzoo.families.diffusion.schedule import NoiseSchedule, make_betas

torch.set_num_threads(1)
RUNS = Path("runs")
MODEL = "ddpm_2d"
# the tiny preset runs 4 epochs (64 steps); 40 epochs (640 steps, seconds) draws the ring
OVERRIDES = ["train.progress=false", "train.epochs=40"]

# %% [markdown]
# ## The forward process: q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)
#
# abar_t is the share of the signal's variance left at step t: the linear schedule (Ho et al.) and the
# cosine one (Nichol & Dhariwal 2021) both end near 0, the cosine one destroys the signal more slowly.

# %%
for name in ("linear", "cosine"):
    sched = NoiseSchedule(make_betas(name, 1000))
    print(name, [round(float(sched.abar[t]), 4) for t in (0, 250, 500, 750, 999)])

# %% [markdown]
# ## Train (the tiny preset: 2000 draws of the ring of 8 Gaussians)

# %%
run = dlzoo.train(MODEL, preset="tiny", overrides=OVERRIDES, runs_dir=RUNS)
print({k: round(v, 4) for k, v in run.metrics.items() if k.startswith("test/")})
for png in sorted((run.path / "plots").glob("*.png")):
    print(png.name)
    display(Image(filename=str(png)))

# %% [markdown]
# ## Sample with every sampler
#
# The request names the sampler and its steps: `ddpm` (ancestral), `ddim` (eta = 0: deterministic),
# `euler_maruyama` (the reverse SDE) and `heun` (the probability-flow ODE).

# %%
loaded = dlzoo.load_run(run.path)


def ring_distance(points: torch.Tensor) -> float:
    """Median distance of 2-D points to the circle of radius 2."""
    return (points.norm(dim=1) - 2.0).abs().median().item()


distances = {}
for sampler, steps in [("ddpm", 200), ("ddim", 50), ("euler_maruyama", 200), ("heun", 25)]:
    answer = inference.handle(loaded, "sample", {"n": 1000, "sampler": sampler, "steps": steps, "seed": 0})
    distances[sampler] = ring_distance(torch.tensor(answer["samples"]))
print({k: round(v, 3) for k, v in distances.items()})
noise = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
print(f"control (N(0, I) noise): {ring_distance(noise):.3f}")

# %% [markdown]
# ## Serve: `POST /v1/models/ddpm_2d/sample`, bounded fields, streamed progress

# %%
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    url = f"/v1/models/{MODEL}/sample"
    served = client.post(url, json={"n": 4, "sampler": "ddim", "steps": 20, "seed": 0}).json()
    bad = client.post(url, json={"sampler": "euler"})
    print(bad.status_code, bad.json()["detail"])
    stream = client.post(url, json={"n": 2, "sampler": "ddpm", "steps": 20, "stream": True})
    print(stream.text.splitlines()[:3])
print("served", served["shape"], served["sampler"], served["steps"])

# %% [markdown]
# ## Export the denoiser to ONNX: inputs (x_t, t), output the predicted noise

# %%
report = dlzoo.export.export_run(run.path, fmt="onnx")
print(report.path.relative_to(run.path), "max |onnx - torch| =", report.max_abs_diff)

# %% [markdown]
# ## Result
#
# Every sampler must put its samples near the ring, far closer than the noise it starts from.

# %%
assert max(distances.values()) < 0.3, distances  # 40-epoch tiny model, see the printed values
assert ring_distance(noise) > 0.6
assert bad.status_code == 422
