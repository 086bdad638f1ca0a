"""The variational autoencoder (Kingma & Welling 2014, "Auto-Encoding Variational Bayes").

    q_phi(z|x)   = N(z; mu_phi(x), diag sigma^2_phi(x))   # encoder: x -> (mu, log sigma^2)
    z            = mu + sigma * eps,  eps ~ N(0, I)        # reparameterization (eq. 4 / Sec. 2.4)
    p_theta(x|z) = prod_i Bernoulli(x_i; sigmoid(f_theta(z)_i))   # decoder: z -> logits (App. C.1)
    p(z)         = N(0, I)

One ``VAE`` module composes an encoder (x -> mu, logvar) and a decoder (z -> logits); two pairs are
provided: MLP (784-400-40, the paper's MNIST shape with ReLU) and convolutional (stride-2 convs whose
transposed mirror is computed from the input size, so (1, 28, 28) MNIST and (1, 8, 8) digits both work).
The losses live in ``objective.py``; this file holds weights and forward passes only.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dlzoo.registry import choices_error

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "softplus": nn.Softplus, "gelu": nn.GELU}


def _activation(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(choices_error("activation", name, list(ACTIVATIONS)))
    return ACTIVATIONS[name]


class VAE(nn.Module):
    """Encoder + reparameterized sample + decoder.

    ``forward`` returns a tuple of tensors so that it traces for ONNX / TorchScript; in eval mode
    z = mu and the output is deterministic, in train mode z = mu + sigma * eps.

    Shapes:
        x: (B, *input_shape) in [0, 1] -> x_logits (B, *input_shape), mu (B, D), logvar (B, D)
    """

    def __init__(
        self, *, encoder: nn.Module, decoder: nn.Module, input_shape: tuple[int, ...], latent_dim: int
    ) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.input_shape, self.latent_dim = tuple(input_shape), latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x): mean and log-variance, (B, D) each."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of p(x|z), (B, *input_shape)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)  # (B, D), (B, D)
        if self.training:
            # z = mu + sigma * eps, eps ~ N(0, I)   (Kingma & Welling 2014, Sec. 2.4)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # (B, D)
        else:
            z = mu
        return self.decode(z), mu, logvar  # (B, *input_shape), (B, D), (B, D)


# -- MLP ---------------------------------------------------------------------------------------


def mlp_trunk(*, in_features: int, hidden: tuple[int, ...], activation: str) -> tuple[nn.Sequential, int]:
    """Linear layers of widths ``hidden``, each followed by ``activation``, and the output width:
    x (B, in_features) -> (B, hidden[-1]) (the identity and in_features when hidden is empty)."""
    act, layers, width = _activation(activation), [], in_features
    for h in hidden:
        layers += [nn.Linear(width, h), act()]
        width = h
    return nn.Sequential(*layers), width


class MLPEncoder(nn.Module):
    """x (B, *input_shape) -> flatten -> hidden layers -> (mu, logvar), (B, D) each."""

    def __init__(self, *, in_features: int, hidden: tuple[int, ...], latent_dim: int, activation: str) -> None:
        super().__init__()
        self.body, width = mlp_trunk(in_features=in_features, hidden=hidden, activation=activation)
        self.mu = nn.Linear(width, latent_dim)
        self.logvar = nn.Linear(width, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x.flatten(1))  # (B, hidden[-1])
        return self.mu(h), self.logvar(h)  # (B, D), (B, D)


class MLPDecoder(nn.Module):
    """z (B, D) -> hidden layers (mirrored) -> logits (B, *input_shape)."""

    def __init__(
        self, *, input_shape: tuple[int, ...], hidden: tuple[int, ...], latent_dim: int, activation: str
    ) -> None:
        super().__init__()
        act, layers, width = _activation(activation), [], latent_dim
        for h in reversed(hidden):
            layers += [nn.Linear(width, h), act()]
            width = h
        layers.append(nn.Linear(width, math.prod(input_shape)))
        self.body = nn.Sequential(*layers)
        self.input_shape = tuple(input_shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z).reshape(-1, *self.input_shape)  # (B, *input_shape)


# -- convolutional -----------------------------------------------------------------------------


def conv_sizes(size: int, layers: int) -> list[int]:
    """Spatial sizes through ``layers`` convs with kernel 4, stride 2, padding 1: n -> floor(n / 2)."""
    sizes = [size]
    for _ in range(layers):
        sizes.append(sizes[-1] // 2)
    return sizes


def conv_trunk(
    *, input_shape: tuple[int, ...], channels: tuple[int, ...], activation: str
) -> tuple[nn.Sequential, int]:
    """Stride-2 convs (kernel 4, padding 1), each followed by ``activation``, and the flattened width
    of their output: x (B, C, H, W) -> (B, channels[-1], h, w), width = channels[-1] * h * w."""
    act, layers, c_in = _activation(activation), [], input_shape[0]
    for c in channels:
        layers += [nn.Conv2d(c_in, c, kernel_size=4, stride=2, padding=1), act()]
        c_in = c
    h, w = conv_sizes(input_shape[1], len(channels))[-1], conv_sizes(input_shape[2], len(channels))[-1]
    return nn.Sequential(*layers), c_in * h * w


class ConvEncoder(nn.Module):
    """x (B, C, H, W) -> stride-2 convs -> flatten -> (mu, logvar), (B, D) each."""

    def __init__(
        self, *, input_shape: tuple[int, ...], channels: tuple[int, ...], latent_dim: int, activation: str
    ) -> None:
        super().__init__()
        self.body, width = conv_trunk(input_shape=input_shape, channels=channels, activation=activation)
        self.mu = nn.Linear(width, latent_dim)
        self.logvar = nn.Linear(width, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x).flatten(1)  # (B, channels[-1] * h * w)
        return self.mu(h), self.logvar(h)  # (B, D), (B, D)


class ConvDecoder(nn.Module):
    """z (B, D) -> linear -> (channels[-1], h, w) -> transposed convs mirroring the encoder -> logits.

    Transposed conv (kernel 4, stride 2, padding 1) maps n -> 2n + output_padding; output_padding
    = size_before - 2 * size_after (0 or 1) restores odd sizes exactly, so the logits have the input's shape.
    """

    def __init__(
        self, *, input_shape: tuple[int, ...], channels: tuple[int, ...], latent_dim: int, activation: str
    ) -> None:
        super().__init__()
        act = _activation(activation)
        hs, ws = conv_sizes(input_shape[1], len(channels)), conv_sizes(input_shape[2], len(channels))
        self.start = (channels[-1], hs[-1], ws[-1])
        self.project = nn.Sequential(nn.Linear(latent_dim, math.prod(self.start)), act())
        outs = [input_shape[0], *channels[:-1]]  # channels after each transposed conv, reversed order
        layers: list[nn.Module] = []
        for i in reversed(range(len(channels))):
            pad = (hs[i] - 2 * hs[i + 1], ws[i] - 2 * ws[i + 1])
            layers.append(
                nn.ConvTranspose2d(channels[i], outs[i], kernel_size=4, stride=2, padding=1, output_padding=pad)
            )
            if i > 0:
                layers.append(act())
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).reshape(-1, *self.start)  # (B, channels[-1], h, w)
        return self.body(h)  # (B, C, H, W)


def check_conv_shape(input_shape: tuple[int, ...], channels: tuple[int, ...]) -> None:
    """A conv encoder needs (C, H, W) with H, W >= 2 ** len(channels); say what to change otherwise."""
    if len(input_shape) != 3:
        raise ValueError(
            f"a conv autoencoder needs images (C, H, W), got input_shape {tuple(input_shape)}; "
            "load the data unflattened (e.g. data.flatten=false) or use the _mlp variant"
        )
    if not channels:
        raise ValueError("channels must name at least one conv layer, e.g. [32, 64]")
    smallest = 2 ** len(channels)
    if min(input_shape[1:]) < smallest:
        raise ValueError(
            f"{len(channels)} stride-2 convs need H, W >= {smallest}, got {tuple(input_shape)}; "
            f"use fewer channels entries"
        )
