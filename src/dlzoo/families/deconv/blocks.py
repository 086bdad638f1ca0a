"""Upsampling blocks for decoders: (B, in, H, W) -> (B, out, s*H, s*W), exactly.

Three ways to double (or triple, ...) a feature map, used by the conv autoencoders, DCGAN and the
super-resolution ``upsampler`` of this family. None of them holds an activation or a norm: callers
add those.

``transpose``  transposed ("fractionally strided") convolution, stride s, kernel k (default 4 at
               s=2). Output size (Dumoulin & Visin 2016, relationship 14 with output padding):

                   H_out = (H - 1) * s - 2 * p + k + output_padding

               For H_out = s * H we need 2p - output_padding = k - s, so

                   p = ceil((k - s) / 2),  output_padding = 2p - (k - s)   (k >= s)
                   p = 0,                  output_padding = s - k          (k <  s)

               Each output pixel receives ceil(k/s) or floor(k/s) kernel taps depending on its
               position modulo s. When s does not divide k the overlap is uneven and the output
               carries a period-s pattern even for a constant input: the checkerboard artifact of
               Odena, Dumoulin & Olah 2016 ("Deconvolution and Checkerboard Artifacts", Distill).

``resize``     nearest-neighbour resize by s, then a stride-1 convolution with odd kernel k
               (default 3), padding k // 2 (Odena et al. 2016, the "resize-convolution" remedy).
               Every output pixel sees the same number of taps: no uneven overlap.

``shuffle``    sub-pixel convolution (Shi et al. 2016, ESPCN): a stride-1 convolution to out * s^2
               channels on the low-resolution grid, then PixelShuffle(s) rearranges
               (B, out*s^2, H, W) -> (B, out, s*H, s*W). Weights are ICNR-initialised (Aitken et al.
               2017, "Checkerboard artifact free sub-pixel convolution"): the s^2 sub-kernels of each
               output channel start equal, so at initialisation the layer is exactly
               conv-then-nearest-upsample and has no checkerboard.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from dlzoo.registry import choices_error

UPSAMPLE_KINDS = ("transpose", "resize", "shuffle")
DEFAULT_KERNEL = {"transpose": 4, "resize": 3, "shuffle": 3}


def transpose_padding(kernel_size: int, scale: int) -> tuple[int, int]:
    """(padding, output_padding) that make ConvTranspose2d(k, stride=s) map H -> s*H exactly."""
    # H_out = (H - 1) s - 2p + k + op = s H  <=>  2p - op = k - s
    if kernel_size >= scale:
        padding = math.ceil((kernel_size - scale) / 2)
        return padding, 2 * padding - (kernel_size - scale)
    return 0, scale - kernel_size


@torch.no_grad()
def icnr_(weight: torch.Tensor, scale: int, *, init: Callable[[torch.Tensor], Any] | None = None) -> torch.Tensor:
    """ICNR initialisation in place (Aitken et al. 2017, Sec. 3) for a conv followed by PixelShuffle(scale).

    ``weight`` has shape (out * s^2, in, k, k). PixelShuffle sends channel ``c * s^2 + i * s + j`` to
    output channel ``c`` at sub-pixel (i, j), so one kernel W_c of shape (in, k, k) is initialised per
    output channel and repeated for its s^2 sub-pixel channels:

        W[c * s^2 + r] = W_c      for r = 0 .. s^2 - 1

    Then conv + PixelShuffle = nearest-neighbour upsampling of conv(x; W_c) at initialisation.
    ``init`` (default: PyTorch's Conv2d default, kaiming_uniform_ with a = sqrt(5)) fills W_c;
    its fan-in is the same as the full weight's, so the weight scale matches an ordinary conv.
    """
    channels = weight.shape[0]
    if channels % (scale * scale) != 0:
        raise ValueError(f"icnr_: weight has {channels} output channels, not a multiple of scale^2 = {scale * scale}")
    sub = torch.empty(channels // (scale * scale), *weight.shape[1:], dtype=weight.dtype, device=weight.device)
    if init is None:
        nn.init.kaiming_uniform_(sub, a=math.sqrt(5))
    else:
        init(sub)
    weight.copy_(sub.repeat_interleave(scale * scale, dim=0))  # (out*s^2, in, k, k)
    return weight


class SubPixelConv(nn.Module):
    """Conv2d(in, out * s^2, k, padding=k//2) + PixelShuffle(s), ICNR-initialised (bias repeated too).

    Shapes: x (B, in, H, W) -> (B, out, s*H, s*W).
    """

    def __init__(self, in_channels: int, out_channels: int, *, scale: int, kernel_size: int, icnr: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels * scale * scale, kernel_size, padding=kernel_size // 2)
        self.shuffle = nn.PixelShuffle(scale)
        if icnr:
            icnr_(self.conv.weight, scale)
            with torch.no_grad():  # one bias per output channel, repeated over its s^2 sub-pixels
                self.conv.bias.copy_(self.conv.bias[:: scale * scale].repeat_interleave(scale * scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(x))  # (B, out*s^2, H, W) -> (B, out, s*H, s*W)


def upsample(
    kind: str, in_channels: int, out_channels: int, *, scale: int = 2, kernel_size: int | None = None, icnr: bool = True
) -> nn.Module:
    """One upsampling layer (B, in, H, W) -> (B, out, scale*H, scale*W); kind in UPSAMPLE_KINDS.

    Args:
        kind: "transpose", "resize" or "shuffle" (see the module docstring for the arithmetic).
        in_channels, out_channels: channel counts.
        scale: integer upsampling factor s >= 2.
        kernel_size: k; default 4 for transpose, 3 for resize and shuffle (which need it odd).
        icnr: shuffle only; False keeps PyTorch's default init (an ablation: checkerboard at init).
    """
    if kind not in UPSAMPLE_KINDS:
        raise ValueError(choices_error("upsample kind", kind, UPSAMPLE_KINDS))
    if not isinstance(scale, int) or scale < 2:
        raise ValueError(f"upsample: scale must be an integer >= 2, got {scale!r}")
    k = DEFAULT_KERNEL[kind] if kernel_size is None else kernel_size
    if k < 1:
        raise ValueError(f"upsample: kernel_size must be >= 1, got {k}")
    if kind == "transpose":
        padding, output_padding = transpose_padding(k, scale)
        return nn.ConvTranspose2d(
            in_channels, out_channels, k, stride=scale, padding=padding, output_padding=output_padding
        )
    if k % 2 == 0:
        raise ValueError(f"upsample: kind {kind!r} needs an odd kernel_size (same padding k // 2), got {k}")
    if kind == "resize":
        return nn.Sequential(
            nn.Upsample(scale_factor=scale, mode="nearest"),  # (B, in, sH, sW)
            nn.Conv2d(in_channels, out_channels, k, padding=k // 2),
        )  # (B, out, sH, sW)
    return SubPixelConv(in_channels, out_channels, scale=scale, kernel_size=k, icnr=icnr)
