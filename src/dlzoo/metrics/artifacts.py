"""Checkerboard artifacts of upsampling layers (Odena, Dumoulin & Olah 2016, Distill).

A stride-s transposed convolution whose kernel size is not a multiple of s gives output pixels
different numbers of kernel taps depending on their position modulo s, so its output carries a
pattern with period s: energy at the spatial frequencies k * N / s (k = 1 .. s-1). Two views:

``checkerboard_score`` (spectral). With X_b = FFT2(x_b - mean(x_b)) per image and channel and the
power spectrum averaged over the batch and channels, P(u, v) = mean_b |X_b(u, v)|^2,

    A  = {(u, v) : u in {0, H/s, ..., (s-1)H/s},  v in {0, W/s, ..., (s-1)W/s}} \\ {(0, 0)}
    HF = {(u, v) : max(|f_u|, |f_v|) >= 1 / (2s)}        f = cycles per pixel, in [-1/2, 1/2)

    score = sum_{A} P / sum_{HF} P                       (0 when there is no HF energy)

HF is the band a factor-s upsampler must create (a low-resolution image holds only
|f| < 1/(2s)); A is inside HF, so the score is in [0, 1]: the fraction of the generated
high-frequency energy that sits exactly on the stride-periodic frequencies. A pure period-s pattern
scores 1; nearest-neighbour upsampling scores 0 exactly (its box filter has zeros at every alias
frequency); a flat spectrum scores |A| / |HF| (``flat_spectrum_score``), about 0.005 for 28x28
at s = 2. The score is invariant to brightness scale and offset.

``pixel_parity`` (spatial): the spread of the s*s sub-pixel phase means, relative to the image's
spread, averaged over images: m_ij = mean x[i::s, j::s],

    parity = mean_b  (max_ij m_ij - min_ij m_ij) / (std(x_b) + eps)
"""

from __future__ import annotations

import torch


def _check(x: torch.Tensor, stride: int) -> None:
    if x.ndim != 4:
        raise ValueError(f"expected images (B, C, H, W), got shape {tuple(x.shape)}")
    if stride < 2 or x.shape[-2] % stride or x.shape[-1] % stride:
        raise ValueError(f"stride {stride} must be >= 2 and divide the image size {tuple(x.shape[-2:])}")


def power_spectrum(x: torch.Tensor) -> torch.Tensor:
    """P(u, v) = mean over batch and channels of |FFT2(x - mean x)|^2: (B, C, H, W) -> (H, W), float64."""
    x = x.double()
    x = x - x.mean(dim=(-2, -1), keepdim=True)  # remove each image's DC so brightness offset does not count
    return torch.fft.fft2(x).abs().square().mean(dim=(0, 1))  # (H, W)


def alias_mask(height: int, width: int, stride: int) -> torch.Tensor:
    """A: the stride-s alias frequencies (u, v) = (k H/s, l W/s), (k, l) != (0, 0): (H, W) bool."""
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[:: height // stride, :: width // stride] = True
    mask[0, 0] = False
    return mask


def high_frequency_mask(height: int, width: int, stride: int) -> torch.Tensor:
    """HF: max(|f_u|, |f_v|) >= 1/(2s), the band a factor-s upsampler creates: (H, W) bool."""
    fu = torch.fft.fftfreq(height, dtype=torch.float64).abs()[:, None]  # (H, 1) cycles per pixel
    fv = torch.fft.fftfreq(width, dtype=torch.float64).abs()[None, :]  # (1, W)
    return torch.maximum(fu, fv) >= 1.0 / (2 * stride) - 1e-12


def checkerboard_score(x: torch.Tensor, *, stride: int = 2) -> torch.Tensor:
    """Fraction of high-frequency spectral energy at the stride-s alias frequencies (module docstring).

    Shapes: x (B, C, H, W) with s dividing H and W -> () float64 in [0, 1].
    """
    _check(x, stride)
    p = power_spectrum(x)  # (H, W)
    h, w = p.shape
    alias = p[alias_mask(h, w, stride)].sum()
    high = p[high_frequency_mask(h, w, stride)].sum()
    # score = sum_A P / sum_HF P
    return torch.where(high > 0, alias / high.clamp_min(1e-300), torch.zeros((), dtype=p.dtype))


def flat_spectrum_score(height: int, width: int, stride: int) -> float:
    """The score of a flat (white-noise) spectrum, |A| / |HF|: the level of 'no periodic structure'."""
    return float(alias_mask(height, width, stride).sum() / high_frequency_mask(height, width, stride).sum())


def pixel_parity(x: torch.Tensor, *, stride: int = 2, eps: float = 1e-8) -> torch.Tensor:
    """Spread of the s*s sub-pixel phase means over the image's std, averaged over images: () float64."""
    _check(x, stride)
    x = x.double().flatten(0, 1)  # (B*C, H, W)
    phases = torch.stack(
        [x[:, i::stride, j::stride].mean(dim=(-2, -1)) for i in range(stride) for j in range(stride)], dim=-1
    )  # (B*C, s*s)
    spread = phases.amax(-1) - phases.amin(-1)  # (B*C,)
    return (spread / (x.std(dim=(-2, -1)) + eps)).mean()
