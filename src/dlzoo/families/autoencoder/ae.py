"""Deterministic autoencoders: x -> code h = f(x) -> reconstruction logits g(h).

The vanilla, denoising, sparse and contractive autoencoders share these modules; they differ only in
the training criterion (``ae_objective.py``): what the encoder sees (a corrupted x for the denoising
AE, Vincent et al. 2008) and which penalty is added to the reconstruction loss (sparsity on h, or
the Frobenius norm of the encoder Jacobian dh/dx, Rifai et al. 2011).

    h      = s(W_L ... a(W_1 x + b_1) ... + b_L)      # encoder; s = code_activation (sigmoid classically)
    logits = g(h)                                      # decoder; the reconstruction is sigmoid(logits)

Two encoder/decoder pairs: MLP (``hidden`` layers then the code layer; ``hidden=()`` is the one-layer
encoder h = s(Wx + b) of Vincent 2008 / Rifai 2011, whose Jacobian has a closed form), and
convolutional (stride-2 convs -> linear code; linear -> ``upsample`` blocks of the deconv family,
``block`` = transpose | resize | shuffle, cropped to the input size). This file holds weights and
forward passes only.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dlzoo.families.autoencoder.model import MLPDecoder, _activation, conv_trunk, mlp_trunk
from dlzoo.registry import choices_error

CODE_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh, "linear": nn.Identity}


def _code_activation(name: str) -> nn.Module:
    if name not in CODE_ACTIVATIONS:
        raise ValueError(choices_error("code_activation", name, list(CODE_ACTIVATIONS)))
    return CODE_ACTIVATIONS[name]()


class Autoencoder(nn.Module):
    """Encoder + decoder; ``forward`` returns (x_logits, code), a tuple so that it exports.

    No noise inside the model: corruption belongs to the denoising objective, so the eval-mode
    forward is deterministic and the served reconstruction is of the input as given.

    Shapes:
        x: (B, *input_shape) in [0, 1] -> x_logits (B, *input_shape), code (B, code_dim)
    """

    def __init__(
        self,
        *,
        encoder: nn.Module,
        decoder: nn.Module,
        input_shape: tuple[int, ...],
        code_dim: int,
        code_activation: str,
    ) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.input_shape, self.code_dim = tuple(input_shape), code_dim
        self.code_activation = code_activation  # the sparse KL penalty needs codes in (0, 1): sigmoid

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """h = f(x): (B, *input_shape) -> (B, code_dim)."""
        return self.encoder(x)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of the reconstruction: (B, code_dim) -> (B, *input_shape)."""
        return self.decoder(h)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encode(x)  # (B, code_dim)
        return self.decode(h), h  # (B, *input_shape), (B, code_dim)


# -- MLP ---------------------------------------------------------------------------------------


class MLPCodeEncoder(nn.Module):
    """x (B, *input_shape) -> flatten -> hidden layers -> code layer s(W h + b), (B, code_dim).

    ``first`` is the Linear layer that sees the pixels (its rows are the filters that are plotted);
    ``code`` the last one, whose pre-activation feeds ``code_activation``.
    """

    def __init__(
        self, *, in_features: int, hidden: tuple[int, ...], code_dim: int, activation: str, code_activation: str
    ) -> None:
        super().__init__()
        self.body, width = mlp_trunk(in_features=in_features, hidden=hidden, activation=activation)
        self.code = nn.Linear(width, code_dim)
        self.act = _code_activation(code_activation)

    @property
    def first(self) -> nn.Linear:
        return self.body[0] if len(self.body) else self.code

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x.flatten(1))  # (B, hidden[-1]) or (B, D) with no hidden layer
        return self.act(self.code(h))  # (B, code_dim)


# -- convolutional -----------------------------------------------------------------------------


class ConvCodeEncoder(nn.Module):
    """x (B, C, H, W) -> stride-2 convs (kernel 4, padding 1) -> flatten -> code layer, (B, code_dim)."""

    def __init__(
        self,
        *,
        input_shape: tuple[int, ...],
        channels: tuple[int, ...],
        code_dim: int,
        activation: str,
        code_activation: str,
    ) -> None:
        super().__init__()
        self.body, width = conv_trunk(input_shape=input_shape, channels=channels, activation=activation)
        self.code = nn.Linear(width, code_dim)
        self.act = _code_activation(code_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x).flatten(1)  # (B, channels[-1] * h * w)
        return self.act(self.code(h))  # (B, code_dim)


class UpsampleDecoder(nn.Module):
    """h (B, code_dim) -> linear -> (channels[-1], ceil(H / 2^L), ceil(W / 2^L)) -> L upsample blocks
    (x2 each, channels mirrored, activation between) -> crop to (C, H, W): logits.

    ``block`` is the deconv family's upsampling operator: "transpose" (transposed conv, kernel 4),
    "resize" (nearest resize then conv, Odena et al. 2016) or "shuffle" (sub-pixel conv with ICNR
    init, Shi et al. 2016). Starting from the ceiling and cropping the last few rows handles sizes
    that are not multiples of 2^L (28 -> 7 -> 28 exactly; 7 -> 2 -> 8 -> crop 7).
    """

    def __init__(
        self, *, input_shape: tuple[int, ...], channels: tuple[int, ...], code_dim: int, activation: str, block: str
    ) -> None:
        super().__init__()
        from dlzoo.families.deconv.blocks import upsample  # the deconv family's decoder blocks

        act, scale = _activation(activation), 2 ** len(channels)
        self.input_shape = tuple(input_shape)
        self.start = (channels[-1], math.ceil(input_shape[1] / scale), math.ceil(input_shape[2] / scale))
        self.project = nn.Sequential(nn.Linear(code_dim, math.prod(self.start)), act())
        outs = [input_shape[0], *channels[:-1]]  # channels after each block, in reverse order of use
        layers: list[nn.Module] = []
        for i in reversed(range(len(channels))):
            layers.append(upsample(block, channels[i], outs[i], scale=2))
            if i > 0:
                layers.append(act())
        self.body = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        y = self.body(self.project(h).reshape(-1, *self.start))  # (B, C, >= H, >= W)
        return y[:, :, : self.input_shape[1], : self.input_shape[2]]  # (B, C, H, W)


def mlp_autoencoder(
    *, input_shape: tuple[int, ...], hidden: tuple[int, ...], code_dim: int, activation: str, code_activation: str
) -> Autoencoder:
    """The MLP pair: encoder ``hidden`` -> code; decoder mirrored (hidden reversed) -> logits."""
    input_shape, hidden = tuple(input_shape), tuple(hidden)
    return Autoencoder(
        encoder=MLPCodeEncoder(
            in_features=math.prod(input_shape),
            hidden=hidden,
            code_dim=code_dim,
            activation=activation,
            code_activation=code_activation,
        ),
        decoder=MLPDecoder(input_shape=input_shape, hidden=hidden, latent_dim=code_dim, activation=activation),
        input_shape=input_shape,
        code_dim=code_dim,
        code_activation=code_activation,
    )


def conv_autoencoder(
    *,
    input_shape: tuple[int, ...],
    channels: tuple[int, ...],
    code_dim: int,
    activation: str,
    code_activation: str,
    block: str,
) -> Autoencoder:
    """The convolutional pair: stride-2 convs -> code; upsample blocks of kind ``block`` -> logits."""
    from dlzoo.families.autoencoder.model import check_conv_shape

    input_shape, channels = tuple(input_shape), tuple(channels)
    check_conv_shape(input_shape, channels)
    return Autoencoder(
        encoder=ConvCodeEncoder(
            input_shape=input_shape,
            channels=channels,
            code_dim=code_dim,
            activation=activation,
            code_activation=code_activation,
        ),
        decoder=UpsampleDecoder(
            input_shape=input_shape, channels=channels, code_dim=code_dim, activation=activation, block=block
        ),
        input_shape=input_shape,
        code_dim=code_dim,
        code_activation=code_activation,
    )
