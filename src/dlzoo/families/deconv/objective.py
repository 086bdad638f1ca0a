"""Super-resolution objective: pixel MSE to train on; PSNR, SSIM and the checkerboard score to evaluate.

    L     = mean_{b,c,i,j} (f(x)_bcij - y_bcij)^2                       (ESPCN, Shi et al. 2016, eq. 4)
    PSNR  = mean_b 10 log10(1 / MSE_b),  MSE_b over image b, output clipped to [0, 1]
    SSIM  = mean SSIM (Wang et al. 2004, eq. 13; Gaussian window 11, sigma 1.5, smaller for small images)

The targets come flattened, (B, C*H*W) (see ``data/superres.py``); the model outputs images
(B, C, H, W) that are reshaped to them. Serving is in ``pipeline.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.metrics.artifacts import checkerboard_score, pixel_parity
from dlzoo.protocols import SupervisedObjective


def as_images(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Targets y (B, C*H*W) as images shaped like the model's output (B, C, H, W); a clear error otherwise."""
    if out.numel() != y.numel():
        raise ValueError(
            f"model output {tuple(out.shape)} does not match targets {tuple(y.shape)} (= flattened high-resolution "
            "images): model.factor must equal data.factor"
        )
    return y.reshape(out.shape)


def ssim_kernel(height: int, width: int) -> int:
    """11 (Wang et al. 2004) or, for small images, the largest odd size that fits."""
    k = min(11, height, width)
    return k if k % 2 else k - 1


class SuperResObjective(SupervisedObjective):
    """Pixel MSE; evaluation adds psnr, ssim, checkerboard and parity (see the module docstring)."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        artifact_stride: int = Field(
            2,
            ge=2,
            description="stride s of the checkerboard score and pixel parity: "
            "the upscaling factor (2, or 4 for x4 models)",
        )

    def __init__(self, cfg: SuperResObjective.Config) -> None:
        self.cfg = cfg

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # L = mean (f(x) - y)^2
        return F.mse_loss(out, as_images(out, y))

    @torch.no_grad()
    def metrics(self, out: torch.Tensor, y: torch.Tensor, train_y: torch.Tensor) -> dict[str, float]:
        """psnr (dB, mean over images), ssim, checkerboard (score at artifact_stride), parity."""
        from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

        target = as_images(out, y).float()  # (N, C, H, W)
        pred = out.float().clamp(0, 1)  # (N, C, H, W) outputs are images: clip as a viewer would
        psnr = peak_signal_noise_ratio(pred, target, data_range=1.0, dim=(1, 2, 3), reduction="elementwise_mean")
        ssim = structural_similarity_index_measure(
            pred, target, data_range=1.0, kernel_size=ssim_kernel(*pred.shape[-2:])
        )
        stride = self.cfg.artifact_stride
        return {
            "psnr": float(psnr),
            "ssim": float(ssim),
            "checkerboard": float(checkerboard_score(out, stride=stride)),
            "parity": float(pixel_parity(out, stride=stride)),
        }
