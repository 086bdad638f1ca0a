# %% [markdown]
# # rnn: an LSTM forecasting yearly sunspot numbers
#
# A recurrent network reads a sequence one step at a time and carries a state: h_t = f(h_{t-1}, x_t).
# The LSTM (Hochreiter & Schmidhuber 1997) adds a cell state updated by gates,
# c_t = f_t * c_{t-1} + i_t * g_t, so that information (and gradient) survives many steps.
# `rnn_forecaster` reads a window of past values and predicts the next one; it reports MASE, the
# mean absolute error scaled by the in-sample error of the naive one-step forecast. Theory, the cells
# written out and the benchmark against ARIMA: [the rnn family README](../../src/dlzoo/families/rnn/README.md).

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
MODEL = "rnn_forecaster"

# %% [markdown]
# ## Data
#
# The yearly mean sunspot numbers (shipped with dlzoo), cut into windows of past years -> next year;
# the last years are the test split.

# %%
cfg = dlzoo.resolve_config(MODEL, preset="tiny")
params = dict(cfg.data)
data = load_dataset(params.pop("name"), **params)
print(cfg.data, data.info.splits)
print("x:", tuple(data.test.x.shape), " y:", tuple(data.test.y.shape))
print("first test window:", data.test.x[0, :, 0].tolist(), "-> next year:", data.test.y[0].item())

# %% [markdown]
# The control is persistence: "next year = this year", the forecast to beat.

# %%
persistence_mae = (data.test.x[:, -1, 0] - data.test.y).abs().mean().item()
print(f"persistence MAE on test: {persistence_mae:.2f}")

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
# A forecaster is a regressor: `predict` returns values in sunspot units (the targets are
# standardized inside the model).

# %%
loaded = dlzoo.load_run(run.path)
forecast = torch.tensor(inference.predict(loaded, data.test.x)["predictions"])
model_mae = (forecast - data.test.y).abs().mean().item()
for year in range(5):
    true, lstm, last = data.test.y[year].item(), forecast[year].item(), data.test.x[year, -1, 0].item()
    print(f"true {true:6.1f}  lstm {lstm:6.1f}  persistence {last:6.1f}")
print(f"LSTM MAE on test: {model_mae:.2f}")

# %% [markdown]
# ## Serve: a window (or a batch of windows) of shape (window, 1)

# %%
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    served = client.post(f"/v1/models/{MODEL}/predict", json={"inputs": data.test.x[:3].tolist()}).json()
    bad = client.post(f"/v1/models/{MODEL}/predict", json={"inputs": [[1.0, 2.0]]})
    print(bad.status_code, bad.json()["detail"])
print("served:", [round(v, 2) for v in served["predictions"]])

# %% [markdown]
# ## Export to ONNX (batch size free)

# %%
report = dlzoo.export.export_run(run.path, fmt="onnx")
print(report.path.relative_to(run.path), "exporter", report.exporter, "max |onnx - torch| =", report.max_abs_diff)

# %% [markdown]
# ## Result
#
# The LSTM must beat persistence clearly on the held-out years; a broken model does worse than it.

# %%
ratio = model_mae / persistence_mae
print(f"LSTM MAE / persistence MAE = {ratio:.3f}")
assert ratio < 0.85, ratio  # trained tiny LSTM: ~0.6-0.65 (seeds 0-2); the mean forecast: ~1.8
torch.testing.assert_close(torch.tensor(served["predictions"]), forecast[:3], rtol=1e-5, atol=1e-4)
