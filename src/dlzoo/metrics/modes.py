"""Mode coverage of samples from a 2-D Gaussian mixture: the VEEGAN / PacGAN toy protocol.

VEEGAN (Srivastava et al. 2017, Sec. 5.1) and PacGAN (Lin et al. 2018, Sec. 5) draw 2500 samples
from the generator and assign each to its nearest mode center. With std sigma of every mixture
component (isotropic), sample x and its nearest center mu_k:

    d(x) = min_k ||x - mu_k||_2 / sigma                  (Mahalanobis distance, diagonal covariance)
    x is "high quality"      iff d(x) < 3                (within three standard deviations)
    mode k is "captured"     iff >= min_count high-quality samples have k as their nearest center

``min_count = 1`` is the rule of the PacGAN code that produced its Tables 1-2
(``synthetic_data_experiments/PacGAN/pacgan/extensions.py: MetricLogger``: a mode is covered when
its count of high-quality samples is nonzero), so ``modes_captured`` here is comparable with the
published 6.3 / 7.8 (ring) and 17.3 / 24.8 (grid). The same code reports ``high_quality_pct`` as
the fraction of all samples that are high quality; we report it in percent.
"""

from __future__ import annotations

import torch

from dlzoo.data.toy2d import Modes

PROTOCOL_SAMPLES = 2500  # samples drawn per evaluation in VEEGAN / PacGAN
HQ_STDS = 3.0  # a sample within this many std of its nearest center is high quality


def mode_counts(samples: torch.Tensor, modes: Modes, *, within_std: float = HQ_STDS) -> torch.Tensor:
    """High-quality samples per mode: (N, 2) -> (K,) int64, each sample counted at its nearest center."""
    if samples.ndim != 2 or samples.shape[1] != modes.centers.shape[1]:
        raise ValueError(f"samples must have shape (N, {modes.centers.shape[1]}), got {tuple(samples.shape)}")
    centers = modes.centers.to(samples)  # (K, 2)
    dist = torch.cdist(samples.float(), centers.float())  # (N, K)
    nearest, k = dist.min(dim=1)  # (N,), (N,)
    good = torch.isfinite(nearest) & (nearest < within_std * modes.std)  # (N,) bool
    return torch.bincount(k[good], minlength=len(centers))  # (K,)


def mode_coverage(
    samples: torch.Tensor, modes: Modes, *, within_std: float = HQ_STDS, min_count: int = 1
) -> dict[str, float]:
    """``modes_captured`` (count of modes with >= min_count HQ samples), ``high_quality_pct`` (0-100),
    and ``mode_kl``: KL(HQ-sample mode histogram || uniform) in nats (0 = every mode equally often;
    log K when one mode holds every sample; a diagnostic beside the protocol's two numbers)."""
    counts = mode_counts(samples, modes, within_std=within_std)  # (K,)
    captured = int((counts >= min_count).sum())
    total = int(counts.sum())
    hq_pct = 100.0 * total / max(1, len(samples))
    k = len(counts)
    if total:
        p = counts.double() / total  # (K,)
        nz = p > 0
        kl = float((p[nz] * (p[nz] * k).log()).sum())
    else:
        kl = float(torch.log(torch.tensor(float(k))))
    return {"modes_captured": float(captured), "high_quality_pct": hq_pct, "mode_kl": kl}
