"""Architectures: the stacks of bijections behind each registered model (presets.py calls these)."""

from __future__ import annotations

from torch import nn

from dlzoo.families.flow.autoregressive import MAFLayer
from dlzoo.families.flow.base import Compose, Permutation, Standardization
from dlzoo.families.flow.coupling import AffineCoupling, ConvNet, alternating_mask, channel_mask, checkerboard_mask, mlp
from dlzoo.families.flow.glow import InvConv1x1, MultiScale
from dlzoo.families.flow.norms import ActNorm, BatchNormFlow
from dlzoo.families.flow.nsf import SplineAutoregressive, SplineCoupling
from dlzoo.registry import RegistryError, choices_error

NSF_KINDS = ("coupling", "autoregressive")


def realnvp_vector(features: int, *, layers: int, hidden: tuple[int, ...], batchnorm: bool) -> Compose:
    """Standardize, then ``layers`` affine couplings on alternating masks (batch norm between them)."""
    steps: list[nn.Module] = [Standardization(features)]
    for i in range(layers):
        steps.append(AffineCoupling(alternating_mask(features, parity=i % 2), mlp(features, hidden, 2 * features)))
        if batchnorm and i < layers - 1:
            steps.append(BatchNormFlow(features))
    return Compose(steps)


def maf_vector(features: int, *, layers: int, hidden: tuple[int, ...], batchnorm: bool) -> Compose:
    """Standardize, then ``layers`` MAF layers, the variable order reversed between them (Papamakarios Sec. 3)."""
    steps: list[nn.Module] = [Standardization(features)]
    for i in range(layers):
        steps.append(MAFLayer(features, hidden))
        if i < layers - 1:
            steps += [BatchNormFlow(features)] if batchnorm else []
            steps.append(Permutation.reverse(features))
    return Compose(steps)


def nsf_vector(features: int, *, kind: str, layers: int, hidden: tuple[int, ...], bins: int, bound: float) -> Compose:
    """Standardize, then ``layers`` spline couplings (alternating masks) or autoregressive splines (reversed)."""
    if kind not in NSF_KINDS:
        raise RegistryError(choices_error("nsf kind", kind, NSF_KINDS))
    steps: list[nn.Module] = [Standardization(features)]
    for i in range(layers):
        if kind == "coupling":
            steps.append(SplineCoupling(alternating_mask(features, parity=i % 2), hidden, bins=bins, bound=bound))
        else:
            steps.append(SplineAutoregressive(features, hidden, bins=bins, bound=bound))
            if i < layers - 1:
                steps.append(Permutation.reverse(features))
    return Compose(steps)


def check_image_shape(input_shape: tuple[int, ...], levels: int) -> None:
    if len(input_shape) != 3 or any(s % (2**levels) for s in input_shape[1:]):
        raise RegistryError(
            f"image flows need input_shape (C, H, W) with H, W divisible by 2 ** levels = {2**levels}; "
            f"got {tuple(input_shape)}"
        )


def glow_image(input_shape: tuple[int, ...], *, levels: int, steps: int, hidden: int) -> MultiScale:
    """Glow: per level, squeeze then ``steps`` x [actnorm, 1x1 conv (LU), affine coupling (channel mask)], split."""
    c = input_shape[0]
    flows = []
    for lvl in range(levels):
        c *= 4
        layers: list[nn.Module] = []
        for k in range(steps):
            layers += [
                ActNorm(c),
                InvConv1x1(c, seed=100 * lvl + k),
                AffineCoupling(channel_mask(c, parity=k % 2), ConvNet(c, hidden, 2 * c)),
            ]
        flows.append(Compose(layers))
        c //= 2
    return MultiScale(None, flows)


def realnvp_image(input_shape: tuple[int, ...], *, levels: int, steps: int, hidden: int) -> MultiScale:
    """RealNVP: ``steps`` checkerboard couplings at full resolution, then per level squeeze and ``steps``
    channel couplings alternating with ``steps`` checkerboard ones, split (actnorm for batch norm)."""
    c, h, w = input_shape

    def checkerboard(ch: int, hh: int, ww: int, n: int) -> list[nn.Module]:
        out: list[nn.Module] = []
        for k in range(n):
            out += [ActNorm(ch), AffineCoupling(checkerboard_mask(hh, ww, parity=k % 2), ConvNet(ch, hidden, 2 * ch))]
        return out

    pre = Compose(checkerboard(c, h, w, steps))
    flows = []
    for _ in range(levels):
        c, h, w = c * 4, h // 2, w // 2
        layers: list[nn.Module] = []
        for k in range(steps):
            layers += [ActNorm(c), AffineCoupling(channel_mask(c, parity=k % 2), ConvNet(c, hidden, 2 * c))]
        flows.append(Compose(layers + checkerboard(c, h, w, steps)))
        c //= 2
    return MultiScale(pre, flows)
