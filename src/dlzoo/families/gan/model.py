"""Generators and critics for GAN, DCGAN, WGAN-GP and PacGAN: nn.Modules only.

One :class:`GAN` module holds both networks, so a run has one ``model.safetensors``:

    generator  G: z (B, latent_dim) -> x (B, *input_shape)
    critic     D: x (B, *input_shape) -> score (B / pack, 1)   (a logit, or a Wasserstein critic value)

``GAN.forward(z)`` is what export, the contract tests and serving see: the generated samples and the
critic's score of each of them (so both networks are in the exported graph; a PacGAN critic scores a
pack of ``pack`` copies of the same sample). The losses live in ``objective.py``.

Papers: Goodfellow et al. 2014 (MLP G/D); Radford, Metz & Chintala 2016 (DCGAN: fractionally strided
convs, BatchNorm in G, LeakyReLU 0.2 + strided convs in D, no pooling); Gulrajani et al. 2017
(WGAN-GP: no BatchNorm in the critic); Lin et al. 2018 (PacGAN: the critic sees ``pack`` samples
concatenated; App. toy nets: G 4 x 400 ReLU + BN, D 3 x 200 LinearMaxout(5)).
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from dlzoo.families.deconv.blocks import UPSAMPLE_KINDS, upsample
from dlzoo.registry import RegistryError, choices_error

OUT_ACTIVATIONS = ("identity", "sigmoid")  # identity for 2-D points, sigmoid for images in [0, 1]
CRITIC_ACTIVATIONS = ("leaky_relu", "maxout", "relu")
CRITIC_NORMS = ("batch", "none")


class Maxout(nn.Module):
    """LinearMaxout(k) (Goodfellow et al. 2013): h_j = max_i (W_ij x + b_ij), i = 1..k.

    Shapes: x (B, in) -> (B, out).
    """

    def __init__(self, in_features: int, out_features: int, *, pieces: int = 5) -> None:
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear(x).view(-1, self.out_features, self.pieces)  # (B, out, k)
        return h.amax(-1)  # (B, out)


def out_activation(name: str) -> nn.Module:
    if name not in OUT_ACTIVATIONS:
        raise RegistryError(choices_error("out_activation", name, OUT_ACTIVATIONS))
    return nn.Sigmoid() if name == "sigmoid" else nn.Identity()


class MLPGenerator(nn.Module):
    """z -> [Linear -> (BatchNorm) -> ReLU] x len(hidden) -> Linear -> out activation -> reshape."""

    def __init__(
        self,
        *,
        latent_dim: int,
        hidden: tuple[int, ...],
        output_shape: tuple[int, ...],
        batchnorm: bool,
        activation: str,
    ) -> None:
        super().__init__()
        self.output_shape = tuple(output_shape)
        layers: list[nn.Module] = []
        width = latent_dim
        for h in hidden:
            layers += [nn.Linear(width, h), *([nn.BatchNorm1d(h)] if batchnorm else []), nn.ReLU()]
            width = h
        layers += [nn.Linear(width, math.prod(self.output_shape)), out_activation(activation)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.output_shape)  # (B, D) -> (B, *output_shape)


class MLPCritic(nn.Module):
    """x -> group ``pack`` consecutive samples -> [Linear -> act] x len(hidden) -> Linear -> score.

    PacGAN (Lin et al. 2018, Sec. 3): the critic sees m samples concatenated, all real or all fake.
    Shapes: x (B, *input_shape), B divisible by pack -> (B / pack, 1).
    """

    def __init__(self, *, input_shape: tuple[int, ...], hidden: tuple[int, ...], pack: int, activation: str) -> None:
        super().__init__()
        if activation not in CRITIC_ACTIVATIONS:
            raise RegistryError(choices_error("critic activation", activation, CRITIC_ACTIVATIONS))
        if pack < 1:
            raise RegistryError(f"pack must be >= 1, got {pack}")
        self.pack = pack
        layers: list[nn.Module] = []
        width = pack * math.prod(input_shape)
        for h in hidden:
            if activation == "maxout":
                layers.append(Maxout(width, h, pieces=5))
            else:
                layers += [nn.Linear(width, h), nn.LeakyReLU(0.2) if activation == "leaky_relu" else nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        packed = x.reshape(-1, self.pack * math.prod(x.shape[1:]))  # (B / pack, pack * d)
        return self.net(packed)  # (B / pack, 1)


class ConvGenerator(nn.Module):
    """DCGAN generator (Radford et al. 2016, Fig. 1): project z, then upsample x2 per stage.

    z (B, D) -> Linear -> (B, c_0, s, s) -> BN -> ReLU -> [upsample -> BN -> ReLU] ... -> upsample
    -> (B, C, H, W) -> sigmoid, with s = H / 2^len(channels) (28 = 7 * 2 * 2 with two stages).
    """

    def __init__(
        self,
        *,
        latent_dim: int,
        output_shape: tuple[int, ...],
        channels: tuple[int, ...],
        upsample_kind: str,
        activation: str,
    ) -> None:
        super().__init__()
        if upsample_kind not in UPSAMPLE_KINDS:
            raise RegistryError(choices_error("upsample", upsample_kind, UPSAMPLE_KINDS))
        c_out, h, w = output_shape
        self.base = h >> len(channels)
        if self.base << len(channels) != h or h != w:
            raise RegistryError(
                f"image {h}x{w} must be square with side divisible by 2^{len(channels)} "
                f"(one x2 upsampling per entry of channels={list(channels)})"
            )
        self.channels0 = channels[0]
        self.project = nn.Sequential(
            nn.Linear(latent_dim, channels[0] * self.base**2, bias=False),
            nn.Unflatten(1, (channels[0], self.base, self.base)),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(),
        )
        stages: list[nn.Module] = []
        for c_in, c_next in itertools.pairwise(channels):
            stages += [upsample(upsample_kind, c_in, c_next), nn.BatchNorm2d(c_next), nn.ReLU()]
        stages += [upsample(upsample_kind, channels[-1], c_out), out_activation(activation)]
        self.stages = nn.Sequential(*stages)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z)  # (B, c_0, s, s)
        return self.stages(h)  # (B, C, H, W)


class ConvCritic(nn.Module):
    """DCGAN discriminator: [Conv k4 s2 -> (BN) -> LeakyReLU(0.2)] per stage, no pooling, Linear -> score.

    No BN on the first layer (Radford et al. 2016, Sec. 3); ``norm="none"`` everywhere for WGAN-GP,
    whose per-sample gradient penalty is invalid under batch norm (Gulrajani et al. 2017, Sec. 4).
    Shapes: x (B, C, H, W) -> (B / pack, 1), packs concatenated along channels.
    """

    def __init__(self, *, input_shape: tuple[int, ...], channels: tuple[int, ...], norm: str, pack: int) -> None:
        super().__init__()
        if norm not in CRITIC_NORMS:
            raise RegistryError(choices_error("critic norm", norm, CRITIC_NORMS))
        c, h, w = input_shape
        self.pack = pack
        layers: list[nn.Module] = []
        width = c * pack
        for i, ch in enumerate(channels):
            layers += [nn.Conv2d(width, ch, 4, stride=2, padding=1)]  # (B, ch, H/2, W/2)
            if norm == "batch" and i > 0:
                layers.append(nn.BatchNorm2d(ch))
            layers.append(nn.LeakyReLU(0.2))
            width, h, w = ch, h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width * h * w, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        packed = x.reshape(b // self.pack, self.pack * c, h, w)  # (B / pack, pack * C, H, W)
        return self.head(self.features(packed).flatten(1))  # (B / pack, 1)


class GAN(nn.Module):
    """Generator + critic in one module; ``forward(z)`` = (G(z), per-sample critic score)."""

    def __init__(
        self, *, generator: nn.Module, critic: nn.Module, latent_dim: int, input_shape: tuple[int, ...], pack: int = 1
    ) -> None:
        super().__init__()
        self.generator, self.critic = generator, critic
        self.latent_dim, self.input_shape, self.pack = latent_dim, tuple(input_shape), pack

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.generator(z)  # (B, *input_shape)
        packs = x.repeat_interleave(self.pack, dim=0) if self.pack > 1 else x  # (B * pack, ...): copies
        return x, self.critic(packs)  # (B, *input_shape), (B, 1)
