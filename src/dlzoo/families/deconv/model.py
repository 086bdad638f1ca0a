"""A super-resolution decoder built from one kind of upsampling block (ESPCN-like, Shi et al. 2016).

    h_0 = act(conv_5x5(x))                       # features on the low-resolution grid
    h_1 = act(conv_3x3(h_0))                     # (``depth`` - 1 such convs)
    h_l = act(upsample_block(h_{l-1}, scale=s_l)) # prod s_l = factor: log2(factor) stages of 2, else one stage
    y   = conv_3x3(h_L)                          # back to the image channels, no output nonlinearity

The upsampling block (transpose / resize / shuffle, see ``blocks.py``) is the only thing that differs
between the variants compared in the README: everything else, including the parameter count of the
low-resolution trunk, is the same.
"""

from __future__ import annotations

import torch
from torch import nn

from dlzoo.families.deconv.blocks import upsample


def stage_scales(factor: int) -> list[int]:
    """log2(factor) stages of 2 when factor is a power of two, else one stage of ``factor``."""
    if factor < 2:
        raise ValueError(f"factor must be an integer >= 2, got {factor}")
    if factor & (factor - 1) == 0:
        return [2] * (factor.bit_length() - 1)
    return [factor]


class Upsampler(nn.Module):
    """Shapes: x (B, C, h, w) -> (B, C, factor*h, factor*w).

    Args:
        in_channels: image channels C (1 for MNIST).
        block: upsampling kind: transpose (transposed conv) | resize (nearest resize then conv) | shuffle (sub-pixel).
        kernel_size: kernel of the upsampling blocks (None: the block's default, 4 / 3 / 3).
        channels: feature channels of every hidden conv and upsampling block.
        depth: convolutions on the low-resolution grid before upsampling (>= 1).
        factor: total upscaling factor, must equal data.factor (log2(factor) x2 stages for a power of 2, else one).
        icnr: shuffle only; ICNR initialisation of the sub-pixel convs (Aitken et al. 2017).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        block: str,
        kernel_size: int | None,
        channels: int,
        depth: int,
        factor: int,
        icnr: bool = True,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        trunk: list[nn.Module] = [nn.Conv2d(in_channels, channels, 5, padding=2), nn.ReLU()]
        for _ in range(depth - 1):
            trunk += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
        self.trunk = nn.Sequential(*trunk)
        stages: list[nn.Module] = []
        for s in stage_scales(factor):
            stages += [upsample(block, channels, channels, scale=s, kernel_size=kernel_size, icnr=icnr), nn.ReLU()]
        self.up = nn.Sequential(*stages)
        self.head = nn.Conv2d(channels, in_channels, 3, padding=1)
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.trunk(x)  # (B, channels, h, w)
        h = self.up(h)  # (B, channels, f*h, f*w)
        return self.head(h)  # (B, C, f*h, f*w)
