# %% [markdown]
# # deconv: learned upsampling (super-resolution of 8x8 digits)
#
# Decoders grow a small feature map into an image. Three blocks do it: the transposed convolution
# ("deconvolution"), resize-then-convolve, and sub-pixel convolution (a convolution to r^2 channels
# rearranged into an r-times larger map). A transposed convolution whose kernel size is not a multiple
# of its stride overlaps unevenly and leaves checkerboard artifacts (Odena et al. 2016); the family
# measures them. `upsampler` learns to map an area-downscaled image back to full resolution.
# Theory and the artifact study: [the deconv family README](../../src/dlzoo/families/deconv/README.md).

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
MODEL = "upsampler"

# %% [markdown]
# ## Data
#
# Pairs (x, y): y is an 8x8 digit image, x the same image downscaled by 2 (4x4, area averaging).

# %%
cfg = dlzoo.resolve_config(MODEL, preset="tiny")
params = dict(cfg.data)
data = load_dataset(params.pop("name"), **params)
x_test = data.test.x  # (N, 1, 4, 4)
y_test = data.test.y.reshape(len(x_test), 1, 8, 8)  # stored flat: (N, 64)
print(cfg.data, data.info.splits, tuple(x_test.shape), "->", tuple(y_test.shape))


def psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1], averaged over images."""
    mse = ((pred.clamp(0, 1) - target) ** 2).mean(dim=(1, 2, 3))  # (N,)
    return (10 * torch.log10(1 / mse)).mean().item()


# %% [markdown]
# The control is classical interpolation of the same low-resolution inputs.

# %%
bicubic = psnr(F.interpolate(x_test, scale_factor=2, mode="bicubic", align_corners=False), y_test)
nearest = psnr(F.interpolate(x_test, scale_factor=2, mode="nearest"), y_test)
print(f"bicubic PSNR {bicubic:.2f} dB, nearest PSNR {nearest:.2f} dB")

# %% [markdown]
# ## Train

# %%
run = dlzoo.train(MODEL, preset="tiny", overrides=["train.progress=false"], runs_dir=RUNS)
print(run.path, "model settings:", dlzoo.load_run(run.path).config.model)
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
# `predict` takes low-resolution images and returns the upsampled ones, clipped to [0, 1].

# %%
loaded = dlzoo.load_run(run.path)
out = inference.handle(loaded, "predict", {"inputs": x_test.tolist()})
upsampled = torch.tensor(out["images"])
print("shape", out["shape"], f"model PSNR {psnr(upsampled, y_test):.2f} dB")

# %% [markdown]
# ## Serve: `POST /v1/models/upsampler/predict {"inputs": low-resolution images}`

# %%
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    served = client.post(f"/v1/models/{MODEL}/predict", json={"inputs": x_test[:4].tolist()}).json()
    bad = client.post(f"/v1/models/{MODEL}/predict", json={"inputs": y_test[:1].tolist()})  # full-size input
    print(bad.status_code, bad.json()["detail"])
print("served shape", served["shape"])

# %% [markdown]
# ## Export to ONNX

# %%
report = dlzoo.export.export_run(run.path, fmt="onnx")
print(report.path.relative_to(run.path), "exporter", report.exporter, "max |onnx - torch| =", report.max_abs_diff)

# %% [markdown]
# ## Result
#
# The learned upsampler must beat bicubic interpolation by a clear margin on the test images.

# %%
model_psnr = run.metrics["test/psnr"]
print(f"model {model_psnr:.2f} dB vs bicubic {bicubic:.2f} dB: +{model_psnr - bicubic:.2f} dB")
assert model_psnr > bicubic + 2.0, (model_psnr, bicubic)  # trained tiny: ~+4 dB (seeds 0-2)
torch.testing.assert_close(torch.tensor(served["images"]), upsampled[:4], rtol=1e-5, atol=1e-6)
