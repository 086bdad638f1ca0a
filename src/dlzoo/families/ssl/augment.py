"""The two views' augmentations: images (kornia), tables (SCARF) and time series (plain tensor ops).

Every random choice comes from the ``generator`` passed in (the paradigm keeps it in the task state),
so a seed gives the same views and a resumed run draws the ones an uninterrupted run would:

- images: kornia's random resized crop and rotation, a brightness offset and additive noise. kornia
  draws its parameters from torch's *global* RNG, so each call runs inside ``torch.random.fork_rng``
  seeded from ``generator`` (the global RNG is left as it was);
- tables, SCARF (Bahri et al. 2022, Sec. 3): each feature of a row is replaced, with probability
  ``corruption``, by the same feature of a random training row, i.e. a draw from its empirical
  marginal;
- time series (TS-TCC / TS2Vec-style, Eldele et al. 2021, Yue et al. 2022): jitter (additive
  Gaussian), scaling (one factor per channel), a random crop resized back to the full length, and
  permutation of ``segments`` equal segments.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field


class AugmentConfig(BaseModel):
    """``task.augment``: which augmentations make the two views, and how strong they are."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["image", "table", "series"] = Field("image", description="the data's modality")
    crop_scale: float = Field(0.3, gt=0, le=1, description="image: smallest area fraction of the random resized crop")
    rotation: float = Field(15.0, ge=0, description="image: rotations drawn uniformly in [-rotation, rotation] degrees")
    brightness: float = Field(0.0, ge=0, description="image: a per-image offset drawn uniformly in [-b, b]")
    noise: float = Field(0.0, ge=0, description="image / series: sd of additive Gaussian noise (series: the jitter)")
    corruption: float = Field(0.6, ge=0, le=1, description="table: probability that a feature is resampled (SCARF c)")
    scale: float = Field(0.1, ge=0, description="series: sd of the per-channel scaling factor around 1")
    crop_ratio: float = Field(0.8, gt=0, le=1, description="series: length fraction of the random crop (then resized)")
    segments: int = Field(4, ge=1, description="series: equal segments permuted (1: no permutation)")


class Augment:
    """``augment(x, generator) -> x'``, one random view of every row of x (same shape)."""

    def __init__(self, cfg: AugmentConfig) -> None:
        self.cfg = cfg
        self.marginals: torch.Tensor | None = None  # table: the training rows, (N, F)
        self._image: torch.nn.Module | None = None

    def fit(self, train_x: torch.Tensor) -> None:
        """Tables: keep the training rows, the empirical marginals SCARF samples from."""
        if self.cfg.kind == "table":
            self.marginals = train_x.flatten(1).clone()

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.cfg.kind == "image":
            return self.image(x, generator)
        if self.cfg.kind == "table":
            return self.table(x, generator)
        return self.series(x, generator)

    # -- images ---------------------------------------------------------------------------------
    def image(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Random resized crop (area in [crop_scale, 1]), rotation, brightness offset, noise.

        Shapes: x (B, C, H, W) -> (B, C, H, W)."""
        if x.dim() != 4:
            raise ValueError(f"image augmentations expect (B, C, H, W), got {tuple(x.shape)}; set task.augment.kind")
        if self._image is None:
            import kornia.augmentation as K

            size = (x.shape[-2], x.shape[-1])
            self._image = torch.nn.Sequential(
                K.RandomResizedCrop(size, scale=(self.cfg.crop_scale, 1.0), ratio=(0.75, 1.333), p=1.0),
                K.RandomRotation(self.cfg.rotation, p=1.0 if self.cfg.rotation > 0 else 0.0),
            )
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            out = self._image(x)  # (B, C, H, W)
        if self.cfg.brightness > 0:
            offset = (2 * torch.rand(len(x), 1, 1, 1, generator=generator) - 1) * self.cfg.brightness  # (B, 1, 1, 1)
            out = out + offset.to(x.device)
        if self.cfg.noise > 0:
            out = out + self.cfg.noise * torch.randn(x.shape, generator=generator).to(x.device)
        return out

    # -- tables (SCARF) -------------------------------------------------------------------------
    def table(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """x~_ij = x_ij, or with probability c the j-th feature of a random training row: (B, F) -> (B, F)."""
        if self.marginals is None:
            raise ValueError("SCARF needs the training rows: call prepare / fit with the train split first")
        flat = x.flatten(1)  # (B, F)
        b, f = flat.shape
        replace = torch.rand(b, f, generator=generator) < self.cfg.corruption  # (B, F) bool
        rows = torch.randint(0, len(self.marginals), (b, f), generator=generator)  # (B, F) random train rows
        drawn = self.marginals[rows, torch.arange(f)]  # (B, F) x_{rows_ij, j}
        return torch.where(replace.to(x.device), drawn.to(x.device), flat).reshape(x.shape)

    # -- time series ----------------------------------------------------------------------------
    def series(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Scaling, crop-and-resize, segment permutation, jitter: (B, C, L) -> (B, C, L)."""
        if x.dim() != 3:
            raise ValueError(f"series augmentations expect (B, C, L), got {tuple(x.shape)}; set task.augment.kind")
        b, c, length = x.shape
        dev = x.device
        out = x * (1 + self.cfg.scale * torch.randn(b, c, 1, generator=generator)).to(dev)  # per-channel scaling
        keep = max(2, round(self.cfg.crop_ratio * length))
        if keep < length:  # random crop of `keep` steps, linearly resized back to L
            start = torch.randint(0, length - keep + 1, (b,), generator=generator)  # (B,)
            idx = (start[:, None] + torch.arange(keep)).to(dev)  # (B, keep)
            crop = out.gather(2, idx[:, None, :].expand(b, c, keep))  # (B, C, keep)
            out = F.interpolate(crop, size=length, mode="linear", align_corners=True)
        if self.cfg.segments > 1:  # permute equal segments (the last one takes the remainder)
            bounds = torch.linspace(0, length, self.cfg.segments + 1).long()
            order = torch.argsort(torch.rand(b, self.cfg.segments, generator=generator), dim=1)  # (B, S)
            pieces = []
            for i in range(b):
                segs = [torch.arange(int(bounds[s]), int(bounds[s + 1])) for s in order[i].tolist()]
                pieces.append(torch.cat(segs))
            perm = torch.stack(pieces).to(dev)  # (B, L)
            out = out.gather(2, perm[:, None, :].expand(b, c, length))
        if self.cfg.noise > 0:
            out = out + self.cfg.noise * torch.randn(x.shape, generator=generator).to(dev)  # jitter
        return out
