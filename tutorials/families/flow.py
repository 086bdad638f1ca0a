# %% [markdown]
# # flow: a neural spline flow on the two moons
#
# A normalizing flow is an invertible map f from data x to a standard Gaussian z, so the density of
# the data is exact: log p(x) = log N(f(x); 0, I) + log |det df/dx| (the change of variables). It is
# trained by maximum likelihood, evaluated by test NLL in nats, and sampled by x = f^{-1}(z). Here a
# tiny neural spline flow (Durkan et al. 2019: monotone rational-quadratic splines in coupling layers)
# learns the two moons. Theory, RealNVP, MAF, Glow and the measured results:
# [the flow family README](../../src/dlzoo/families/flow/README.md).

# %%
from pathlib import Path

import torch
from fastapi.testclient import TestClient
from IPython.display import Image, display

import dlzoo
import dlzoo.evaluate
import dlzoo.export
import dlzoo.serve
from dlzoo.data import load_dataset

torch.set_num_threads(1)
RUNS = Path("runs")
MODEL = "nsf"
# the tiny preset (2 spline couplings, 2000 moons) for 20 epochs: 320 Adam steps, seconds
OVERRIDES = ["train.progress=false", "train.epochs=20"]

# %% [markdown]
# ## Data: two interleaving half circles with Gaussian noise (std 0.05)
#
# The control is the best single Gaussian: its test NLL is what a flow that learned nothing beyond the
# mean and covariance would reach.

# %%
cfg = dlzoo.resolve_config(MODEL, preset="tiny", overrides=OVERRIDES)
params = dict(cfg.data)
data = load_dataset(params.pop("name"), **params)
print(cfg.data, data.info.splits, tuple(data.train.x.shape))
gauss = torch.distributions.MultivariateNormal(data.train.x.mean(0), torch.cov(data.train.x.T))
gaussian_nll = -gauss.log_prob(data.test.x).mean().item()
print(f"best single Gaussian: test NLL {gaussian_nll:.3f} nats")

# %% [markdown]
# ## Train (loss = mean negative log-likelihood)

# %%
run = dlzoo.train(MODEL, preset="tiny", overrides=OVERRIDES, runs_dir=RUNS)
print(run.path)
print({k: round(v, 4) for k, v in run.metrics.items() if k.startswith("test/")})

# %% [markdown]
# ## Plots: the data, the learned density as a heat map, samples
#
# `test/density_integral` above is the density summed over a grid around the data: about 1, as an
# exact density must be.

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
# ## Serve: `/log_prob` (one value per point) and `/sample` (count, temperature, seed)

# %%
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    points = [[0.0, 1.0], [1.0, -0.5], [0.5, 0.25]]  # on the upper moon, on the lower one, in the gap
    log_p = client.post(f"/v1/models/{MODEL}/log_prob", json={"inputs": points}).json()["log_prob"]
    served = client.post(f"/v1/models/{MODEL}/sample", json={"n": 5, "temperature": 0.8, "seed": 0}).json()
    bad = client.post(f"/v1/models/{MODEL}/log_prob", json={"inputs": [[0.0, 1.0, 2.0]]})
    print(bad.status_code, bad.json()["detail"])
print("log p:", [round(v, 2) for v in log_p])
print("samples", served["shape"], [[round(v, 2) for v in p] for p in served["samples"]])

# %% [markdown]
# ## Export the log-density to ONNX

# %%
report = dlzoo.export.export_run(run.path, fmt="onnx")
print(report.path.relative_to(run.path), "max |onnx - torch| =", report.max_abs_diff)

# %% [markdown]
# ## Result
#
# The flow must beat the best single Gaussian by a wide margin, put more density on the moons than in
# the gap between them, and integrate to about 1.

# %%
nll = metrics["test/nll"]
print(f"test NLL: flow {nll:.3f}, single Gaussian {gaussian_nll:.3f} nats")
assert nll < gaussian_nll - 0.5, (nll, gaussian_nll)
assert log_p[0] > log_p[2] and log_p[1] > log_p[2], log_p
assert abs(run.metrics["test/density_integral"] - 1) < 0.05, run.metrics["test/density_integral"]
loaded = dlzoo.load_run(run.path)
with torch.no_grad():
    torch.testing.assert_close(torch.tensor(log_p), loaded.model(torch.tensor(points)))
