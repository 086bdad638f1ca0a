"""Denoiser networks (weights only): x_t, time index t, optional class y -> eps / x0 / v prediction.

- :class:`MLPDenoiser` for vectors (2-D sets): residual MLP blocks, each adding a projection of the
  sinusoidal time embedding.
- :class:`UNet` for images (Ho et al. 2020, App. B, scaled down): residual blocks with GroupNorm
  and a time (+ class) embedding, self-attention at the lowest resolution (7x7 for 28x28 MNIST) and
  in the middle, skip connections by concatenation. ``num_classes`` adds a class embedding with one
  extra "null" row (index num_classes) for classifier-free guidance (Ho & Salimans 2022).

Shapes: x (B, *shape), t (B,) float (a real time index in [0, T-1]), y (B,) long -> (B, *shape).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dlzoo.layers import SinCosFeatures


def timestep_embedding(t: torch.Tensor, dim: int, *, max_period: float = 10000.0) -> torch.Tensor:
    """Transformer sinusoids of a real t (Vaswani et al. 2017; Ho et al. 2020 App. B): (B,) -> (B, dim),
    [cos(t w_k), sin(t w_k)], w_k = max_period^(-k / (dim / 2)), k = 0..dim/2-1."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)  # (B, 2 half)


class TimeEmbedding(nn.Module):
    """sinusoid(t) -> Linear -> SiLU -> Linear, plus a class embedding (null class = num_classes)."""

    def __init__(self, dim: int, *, num_classes: int = 0) -> None:
        super().__init__()
        self.dim, self.num_classes = dim, num_classes
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.SiLU(), nn.Linear(4 * dim, 4 * dim))
        self.classes = nn.Embedding(num_classes + 1, 4 * dim) if num_classes else None

    def forward(self, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        emb = self.mlp(timestep_embedding(t, self.dim))  # (B, 4 dim)
        if self.classes is not None:
            if y is None:  # unconditional: the null class
                y = (t * 0).long() + self.num_classes
            emb = emb + self.classes(y)
        return emb


class MLPDenoiser(nn.Module):
    """x -> [x; γ(x)] -> Linear -> [h + W2 SiLU(W1 h + U emb)] x blocks -> SiLU -> Linear; (B, D) -> (B, D).

    γ(x) = (sin(2^k x), cos(2^k x)) for k < ``x_frequencies`` (``dlzoo.layers.SinCosFeatures``): an MLP
    on raw coordinates learns high frequencies slowly, and near t = 0 the noise of a sharp mixture is
    such a function of x_t.
    """

    def __init__(
        self,
        dim: int,
        *,
        hidden: int = 128,
        blocks: int = 3,
        emb_dim: int = 32,
        num_classes: int = 0,
        x_frequencies: int = 0,
    ):
        super().__init__()
        self.embed = TimeEmbedding(emb_dim, num_classes=num_classes)
        self.features = SinCosFeatures(x_frequencies)
        self.inp = nn.Linear(self.features.out_features(dim), hidden)
        self.blocks = nn.ModuleList(
            nn.ModuleDict(
                {"w1": nn.Linear(hidden, hidden), "u": nn.Linear(4 * emb_dim, hidden), "w2": nn.Linear(hidden, hidden)}
            )
            for _ in range(blocks)
        )
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.embed(t, y)  # (B, 4 emb_dim)
        h = self.inp(self.features(x))  # (B, H)
        for b in self.blocks:
            h = h + b["w2"](torch.nn.functional.silu(b["w1"](h) + b["u"](emb)))
        return self.out(h)  # (B, D)


def _groups(ch: int) -> int:
    return math.gcd(8, ch)


class ResBlock(nn.Module):
    """GN -> SiLU -> conv3 (+ Linear(emb)) -> GN -> SiLU -> dropout -> conv3, plus a (1x1) skip."""

    def __init__(self, c_in: int, c_out: int, emb: int, dropout: float) -> None:
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(_groups(c_in), c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb, c_out)
        self.n2, self.c2 = nn.GroupNorm(_groups(c_out), c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.drop = nn.Dropout(dropout)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.c1(nn.functional.silu(self.n1(x)))  # (B, c_out, H, W)
        h = h + self.emb(nn.functional.silu(emb))[:, :, None, None]
        h = self.c2(self.drop(nn.functional.silu(self.n2(h))))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Single-head self-attention over the H*W positions, residual: x + proj(softmax(q k^T / sqrt(C)) v)."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.norm, self.qkv, self.proj = nn.GroupNorm(_groups(ch), ch), nn.Conv2d(ch, 3 * ch, 1), nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).chunk(3, dim=1)  # (B, C, HW) each
        att = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(c), dim=-1)  # (B, HW, HW)
        out = (v @ att.transpose(1, 2)).view(b, c, h, w)  # (B, C, H, W)
        return x + self.proj(out)


class UNet(nn.Module):
    """DDPM U-Net: levels of ``blocks`` ResBlocks at ``channels * mult`` channels, x2 down / up between
    levels, attention at the last (lowest-resolution) level and in the middle; (B, C, H, W) -> same."""

    def __init__(
        self,
        in_ch: int,
        *,
        channels: int = 32,
        mults: tuple[int, ...] = (1, 2, 2),
        blocks: int = 1,
        dropout: float = 0.1,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        emb = 4 * channels
        self.embed = TimeEmbedding(channels, num_classes=num_classes)
        self.inp = nn.Conv2d(in_ch, channels, 3, padding=1)
        last = len(mults) - 1
        self.down = nn.ModuleList()
        skips, ch = [channels], channels
        for i, m in enumerate(mults):
            for _ in range(blocks):
                self.down.append(nn.ModuleList([ResBlock(ch, channels * m, emb, dropout)]))
                ch = channels * m
                if i == last:
                    self.down[-1].append(SelfAttention(ch))
                skips.append(ch)
            if i != last:
                self.down.append(nn.ModuleList([nn.Conv2d(ch, ch, 3, stride=2, padding=1)]))
                skips.append(ch)
        self.mid1, self.mid_att, self.mid2 = (
            ResBlock(ch, ch, emb, dropout),
            SelfAttention(ch),
            ResBlock(ch, ch, emb, dropout),
        )
        self.up = nn.ModuleList()
        for i, m in reversed(list(enumerate(mults))):
            for _ in range(blocks + 1):
                self.up.append(nn.ModuleList([ResBlock(ch + skips.pop(), channels * m, emb, dropout)]))
                ch = channels * m
                if i == last:
                    self.up[-1].append(SelfAttention(ch))
            if i != 0:
                self.up.append(
                    nn.ModuleList([nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1)])
                )
        self.out = nn.Sequential(nn.GroupNorm(_groups(ch), ch), nn.SiLU(), nn.Conv2d(ch, in_ch, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.embed(t, y)  # (B, 4 channels)
        h = self.inp(x)
        hs = [h]
        for layer in self.down:
            if isinstance(layer[0], ResBlock):
                h = layer[0](h, emb)
                for extra in layer[1:]:
                    h = extra(h)
            else:  # strided conv: H -> ceil(H / 2)
                h = layer[0](h)
            hs.append(h)
        h = self.mid2(self.mid_att(self.mid1(h, emb)), emb)
        for layer in self.up:
            if isinstance(layer[0], ResBlock):
                h = layer[0](torch.cat([h, hs.pop()], dim=1), emb)
                for extra in layer[1:]:
                    h = extra(h)
            else:  # nearest x2, cropped to the skip's size (7 -> 14 -> 28; odd sides work too)
                h = layer[1](layer[0](h)[..., : hs[-1].shape[-2], : hs[-1].shape[-1]])
        return self.out(h)
