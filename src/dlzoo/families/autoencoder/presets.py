"""Registered VAE entrypoints and their presets (presets are data: partial run configs).

Presets: ``tiny`` (8x8 digits, seconds, used by the tests), ``default`` (8x8 digits, under a minute),
``mnist`` (binarized MNIST, the benchmark configuration; see README.md for the binarization).
"""

from __future__ import annotations

import math

from dlzoo.families.autoencoder.model import (
    VAE,
    ConvDecoder,
    ConvEncoder,
    MLPDecoder,
    MLPEncoder,
    check_conv_shape,
)
from dlzoo.families.autoencoder.objective import VAEObjective
from dlzoo.registry import register_model

DIGITS = {"name": "digits_images"}  # scikit-learn's 8x8 digits, grey levels in [0, 1]: no download
DIGITS_VAL = {"name": "digits_images", "val_size": 0.2}
DIGITS_TASK = {"dynamic_binarize": True}  # binary pixels ~ Bernoulli(grey level), redrawn every batch
# binarized MNIST, 50000 / 10000 / 10000 like Larochelle & Murray (2011): one fixed Bernoulli draw
MNIST = {"name": "mnist", "binarize": "stochastic", "binarize_seed": 0, "val_size": 10000}
MNIST_TASK = {"dynamic_binarize": False, "eval_iw_samples": 1000}


@register_model(
    family="autoencoder", task="generate", paradigm="generative", objective=VAEObjective,
    presets={
        "tiny": {
            "model": {"hidden": [128], "latent_dim": 8},
            "data": DIGITS, "task": DIGITS_TASK,
            "train": {"epochs": 30, "batch_size": 64, "lr": 3e-3, "log_every": 10, "progress": False},
        },
        "default": {
            "model": {"hidden": [400], "latent_dim": 16},
            "data": DIGITS_VAL, "task": DIGITS_TASK,
            "train": {"epochs": 300, "batch_size": 100, "lr": 1e-3, "log_every": 50},
        },
        # the Rezende & Mohamed (2015) / pythae MNIST model: 784-400-40 (ReLU), Adam 1e-3, batch 100, 500
        # epochs; benchmarks/vae_mnist.py runs it for 70 epochs (train.epochs=70) on CPU
        "mnist": {
            "model": {"hidden": [400], "latent_dim": 40},
            "data": MNIST, "task": MNIST_TASK,
            "train": {"epochs": 500, "batch_size": 100, "lr": 1e-3, "log_every": 100, "checkpoint_every": 10},
        },
    },
)
def vae_mlp(*, input_shape: tuple[int, ...], hidden: tuple[int, ...] = (400,), latent_dim: int = 40,
            activation: str = "relu") -> VAE:
    """Variational autoencoder, MLP encoder/decoder, Bernoulli pixels (Kingma & Welling 2014)."""
    input_shape, hidden = tuple(input_shape), tuple(hidden)
    return VAE(
        encoder=MLPEncoder(in_features=math.prod(input_shape), hidden=hidden, latent_dim=latent_dim, activation=activation),
        decoder=MLPDecoder(input_shape=input_shape, hidden=hidden, latent_dim=latent_dim, activation=activation),
        input_shape=input_shape, latent_dim=latent_dim,
    )


@register_model(
    family="autoencoder", task="generate", paradigm="generative", objective=VAEObjective,
    presets={
        "tiny": {
            "model": {"channels": [16, 32], "latent_dim": 8},
            "data": DIGITS, "task": {**DIGITS_TASK, "eval_iw_samples": 100},  # conv decodes are slow on CPU
            "train": {"epochs": 15, "batch_size": 64, "lr": 3e-3, "log_every": 10, "progress": False},
        },
        "default": {
            "model": {"channels": [32, 64], "latent_dim": 16},
            "data": DIGITS_VAL, "task": DIGITS_TASK,
            "train": {"epochs": 150, "batch_size": 100, "lr": 1e-3, "log_every": 50},
        },
        "mnist": {
            "model": {"channels": [32, 64], "latent_dim": 40},
            "data": MNIST, "task": MNIST_TASK,
            "train": {"epochs": 100, "batch_size": 100, "lr": 1e-3, "log_every": 100, "checkpoint_every": 10},
        },
    },
)
def vae_conv(*, input_shape: tuple[int, ...], channels: tuple[int, ...] = (32, 64), latent_dim: int = 16,
             activation: str = "relu") -> VAE:
    """Variational autoencoder, stride-2 conv encoder / transposed-conv decoder, Bernoulli pixels."""
    input_shape, channels = tuple(input_shape), tuple(channels)
    check_conv_shape(input_shape, channels)
    return VAE(
        encoder=ConvEncoder(input_shape=input_shape, channels=channels, latent_dim=latent_dim, activation=activation),
        decoder=ConvDecoder(input_shape=input_shape, channels=channels, latent_dim=latent_dim, activation=activation),
        input_shape=input_shape, latent_dim=latent_dim,
    )
