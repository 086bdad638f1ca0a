"""Registered autoencoder entrypoints and their presets (presets are data: partial run configs).

Presets: ``tiny`` (8x8 digits, seconds, used by the tests), ``default`` (8x8 digits, under a minute),
``mnist`` (the benchmark configuration: binarized MNIST for the VAE, grey levels for the deterministic
autoencoders; see README.md). The VAEs come first, then vanilla / denoising / sparse / contractive AEs.
"""

from __future__ import annotations

import math

from dlzoo.families.autoencoder.ae import Autoencoder, conv_autoencoder, mlp_autoencoder
from dlzoo.families.autoencoder.ae_objective import (
    AutoencoderObjective,
    ContractiveObjective,
    DenoisingObjective,
    SparseObjective,
)
from dlzoo.families.autoencoder.model import (
    VAE,
    ConvDecoder,
    ConvEncoder,
    MLPDecoder,
    MLPEncoder,
    check_conv_shape,
)
from dlzoo.families.autoencoder.objective import VAEObjective
from dlzoo.families.autoencoder.pipeline import AutoencoderPipeline, VAEPipeline
from dlzoo.families.autoencoder.plots import AutoencoderPlots, VAEPlots
from dlzoo.registry import register_model

DIGITS = {"name": "digits_images"}  # scikit-learn's 8x8 digits, grey levels in [0, 1]: no download
DIGITS_VAL = {"name": "digits_images", "val_size": 0.2}
DIGITS_TASK = {"dynamic_binarize": True}  # binary pixels ~ Bernoulli(grey level), redrawn every batch
# binarized MNIST, 50000 / 10000 / 10000 like Larochelle & Murray (2011): one fixed Bernoulli draw
MNIST = {"name": "mnist", "binarize": "stochastic", "binarize_seed": 0, "val_size": 10000}
MNIST_TASK = {"dynamic_binarize": False, "eval_iw_samples": 1000}


@register_model(
    family="autoencoder",
    task="generate",
    paradigm="generative",
    objective=VAEObjective,
    pipeline=VAEPipeline,
    plots=VAEPlots,
    presets={
        "tiny": {
            "model": {"hidden": [128], "latent_dim": 8},
            "data": DIGITS,
            "task": DIGITS_TASK,
            "train": {"epochs": 30, "batch_size": 64, "lr": 3e-3, "log_every": 10},
        },
        "default": {
            "model": {"hidden": [400], "latent_dim": 16},
            "data": DIGITS_VAL,
            "task": DIGITS_TASK,
            "train": {"epochs": 300, "batch_size": 100, "lr": 1e-3, "log_every": 50},
        },
        # the Rezende & Mohamed (2015) / pythae MNIST model: 784-400-40 (ReLU), Adam 1e-3, batch 100, 500
        # epochs; benchmarks/vae_mnist.py runs it for 70 epochs (train.epochs=70) on CPU
        "mnist": {
            "model": {"hidden": [400], "latent_dim": 40},
            "data": MNIST,
            "task": MNIST_TASK,
            "train": {"epochs": 500, "batch_size": 100, "lr": 1e-3, "log_every": 100, "checkpoint_every": 10},
        },
    },
)
def vae_mlp(
    *, input_shape: tuple[int, ...], hidden: tuple[int, ...] = (400,), latent_dim: int = 40, activation: str = "relu"
) -> VAE:
    """Variational autoencoder, MLP encoder/decoder, Bernoulli pixels (Kingma & Welling 2014).

    Args:
        input_shape: shape of one example, e.g. (1, 28, 28), flattened by the encoder; filled from the data when unset.
        hidden: widths of the encoder's hidden layers, input to latent; the decoder uses them in reverse order.
        latent_dim: D, the dimension of z; the encoder outputs its mean and log-variance, the prior is N(0, I).
        activation: nonlinearity after every hidden layer: relu | tanh | softplus | gelu.
    """
    input_shape, hidden = tuple(input_shape), tuple(hidden)
    return VAE(
        encoder=MLPEncoder(
            in_features=math.prod(input_shape), hidden=hidden, latent_dim=latent_dim, activation=activation
        ),
        decoder=MLPDecoder(input_shape=input_shape, hidden=hidden, latent_dim=latent_dim, activation=activation),
        input_shape=input_shape,
        latent_dim=latent_dim,
    )


@register_model(
    family="autoencoder",
    task="generate",
    paradigm="generative",
    objective=VAEObjective,
    pipeline=VAEPipeline,
    plots=VAEPlots,
    presets={
        "tiny": {
            "model": {"channels": [16, 32], "latent_dim": 8},
            "data": DIGITS,
            "task": {**DIGITS_TASK, "eval_iw_samples": 100},  # conv decodes are slow on CPU
            "train": {"epochs": 15, "batch_size": 64, "lr": 3e-3, "log_every": 10},
        },
        "default": {
            "model": {"channels": [32, 64], "latent_dim": 16},
            "data": DIGITS_VAL,
            "task": DIGITS_TASK,
            "train": {"epochs": 150, "batch_size": 100, "lr": 1e-3, "log_every": 50},
        },
        "mnist": {
            "model": {"channels": [32, 64], "latent_dim": 40},
            "data": MNIST,
            "task": MNIST_TASK,
            "train": {"epochs": 100, "batch_size": 100, "lr": 1e-3, "log_every": 100, "checkpoint_every": 10},
        },
    },
)
def vae_conv(
    *,
    input_shape: tuple[int, ...],
    channels: tuple[int, ...] = (32, 64),
    latent_dim: int = 16,
    activation: str = "relu",
) -> VAE:
    """Variational autoencoder, stride-2 conv encoder / transposed-conv decoder, Bernoulli pixels.

    Args:
        input_shape: image shape (C, H, W) with H, W >= 2 ** len(channels); filled from the data when unset.
        channels: output channels of the encoder's stride-2 convs (kernel 4, each halves H, W), mirrored by the decoder.
        latent_dim: D, the dimension of z; the encoder outputs its mean and log-variance, the prior is N(0, I).
        activation: nonlinearity between the layers (none on the latent or the output): relu | tanh | softplus | gelu.
    """
    input_shape, channels = tuple(input_shape), tuple(channels)
    check_conv_shape(input_shape, channels)
    return VAE(
        encoder=ConvEncoder(input_shape=input_shape, channels=channels, latent_dim=latent_dim, activation=activation),
        decoder=ConvDecoder(input_shape=input_shape, channels=channels, latent_dim=latent_dim, activation=activation),
        input_shape=input_shape,
        latent_dim=latent_dim,
    )


# -- deterministic autoencoders: vanilla, denoising, sparse, contractive ---------------------------
# One module pair per shape (ae.py); the four differ only in their objective (ae_objective.py).
# Every preset trains on grey levels in [0, 1] (no binarization) with the cross-entropy loss.

AE_MNIST = {"name": "mnist", "val_size": 10000}  # grey levels; 50000 / 10000 / 10000
AE_TINY_TRAIN = {"epochs": 20, "batch_size": 64, "lr": 3e-3, "log_every": 10}
AE_DEFAULT_TRAIN = {"epochs": 100, "batch_size": 64, "lr": 1e-3, "log_every": 50}
# benchmarks/autoencoders_mnist.py: 20 epochs of Adam (a CPU budget; Vincent et al. and Rifai et al. ran SGD longer)
AE_MNIST_TRAIN = {"epochs": 20, "batch_size": 100, "lr": 1e-3, "log_every": 100, "checkpoint_every": 5}
CONV_MNIST_TRAIN = {**AE_MNIST_TRAIN, "epochs": 5}

DAE_TASK = {"noise": "mask", "noise_level": 0.25}  # Vincent et al. 2008: masking noise, 25% destroyed
SPARSE_TASK = {"sparsity": "kl", "target": 0.05, "weight": 0.1}  # rho = 0.05
CAE_TASK = {"weight": 0.1, "jacobian": "exact"}  # closed form for the one-layer MLP encoder
CAE_CONV_TASK = {"weight": 0.1, "jacobian": "hutchinson", "probes": 1}  # unbiased J^T u estimate


def _mlp_presets(task: dict) -> dict:
    """tiny / default on 8x8 digits, mnist with a one-layer 784-500 sigmoid encoder (Vincent 2008 shape)."""
    return {
        "tiny": {"model": {"code_dim": 32}, "data": DIGITS, "task": task, "train": AE_TINY_TRAIN},
        "default": {"model": {"code_dim": 64}, "data": DIGITS_VAL, "task": task, "train": AE_DEFAULT_TRAIN},
        "mnist": {"model": {"code_dim": 500}, "data": AE_MNIST, "task": task, "train": AE_MNIST_TRAIN},
    }


def _conv_presets(task: dict) -> dict:
    """Two stride-2 convs -> code; two upsample blocks back (28 -> 14 -> 7 -> 14 -> 28 on MNIST).

    The conv builders default to linear codes, except the sparse one (its KL needs sigmoid codes):
    with sigmoid codes the conv AEs drove every code to ~1 within the first epoch under Adam (digits
    tiny: mean activation 0.9, test MSE 0.069 = the mean image's; linear codes: 0.017), while the
    sparsity penalty itself keeps the sparse AE's sigmoid codes out of saturation.
    """
    return {
        "tiny": {
            "model": {"channels": [8, 16], "code_dim": 16},
            "data": DIGITS,
            "task": task,
            "train": {**AE_TINY_TRAIN, "epochs": 10},
        },
        "default": {
            "model": {"channels": [32, 64], "code_dim": 32},
            "data": DIGITS_VAL,
            "task": task,
            "train": AE_DEFAULT_TRAIN,
        },
        "mnist": {
            "model": {"channels": [32, 64], "code_dim": 64},
            "data": AE_MNIST,
            "task": task,
            "train": CONV_MNIST_TRAIN,
        },
    }


def _mlp(
    input_shape: tuple[int, ...], hidden: tuple[int, ...], code_dim: int, activation: str, code_activation: str
) -> Autoencoder:
    return mlp_autoencoder(
        input_shape=input_shape,
        hidden=hidden,
        code_dim=code_dim,
        activation=activation,
        code_activation=code_activation,
    )


def _conv(
    input_shape: tuple[int, ...],
    channels: tuple[int, ...],
    code_dim: int,
    activation: str,
    code_activation: str,
    block: str,
) -> Autoencoder:
    return conv_autoencoder(
        input_shape=input_shape,
        channels=channels,
        code_dim=code_dim,
        activation=activation,
        code_activation=code_activation,
        block=block,
    )


@register_model(
    family="autoencoder",
    task="generate",
    paradigm="generative",
    objective=AutoencoderObjective,
    pipeline=AutoencoderPipeline,
    plots=AutoencoderPlots,
    presets=_mlp_presets({}),
)
def ae_mlp(
    *,
    input_shape: tuple[int, ...],
    hidden: tuple[int, ...] = (),
    code_dim: int = 500,
    activation: str = "relu",
    code_activation: str = "sigmoid",
) -> Autoencoder:
    """Autoencoder, MLP encoder h = s(Wx + b) (optional hidden layers), mirrored decoder, plain reconstruction.

    Args:
        input_shape: shape of one example, e.g. (1, 28, 28), flattened by the encoder; filled from the data when unset.
        hidden: widths of the encoder's layers before the code, mirrored by the decoder; () gives h = s(Wx + b).
        code_dim: width of the code h (500 in Vincent et al. 2008 on MNIST).
        activation: nonlinearity of the hidden layers (unused when hidden is empty): relu | tanh | softplus | gelu.
        code_activation: s, applied to the code layer: sigmoid | relu | tanh | linear.
    """
    return _mlp(input_shape, hidden, code_dim, activation, code_activation)


@register_model(
    family="autoencoder",
    task="generate",
    paradigm="generative",
    objective=AutoencoderObjective,
    pipeline=AutoencoderPipeline,
    plots=AutoencoderPlots,
    presets=_conv_presets({}),
)
def ae_conv(
    *,
    input_shape: tuple[int, ...],
    channels: tuple[int, ...] = (32, 64),
    code_dim: int = 64,
    activation: str = "relu",
    code_activation: str = "linear",
    block: str = "transpose",
) -> Autoencoder:
    """Autoencoder, stride-2 conv encoder, upsample-block decoder (transpose | resize | shuffle).

    Args:
        input_shape: image shape (C, H, W) with H, W >= 2 ** len(channels); filled from the data when unset.
        channels: output channels of the encoder's stride-2 convs (kernel 4, each halves H, W), mirrored by the decoder.
        code_dim: width of the code h, a linear layer on the flattened conv features.
        activation: nonlinearity between the layers (none on the code or the output): relu | tanh | softplus | gelu.
        code_activation: s, applied to the code layer: sigmoid | relu | tanh | linear.
        block: the decoder's x2 upsampling: transpose (transposed conv) | resize (nearest + conv) | shuffle (sub-pixel).
    """
    return _conv(input_shape, channels, code_dim, activation, code_activation, block)


@register_model(
    family="autoencoder",
    task="generate",
    paradigm="generative",
    objective=DenoisingObjective,
    pipeline=AutoencoderPipeline,
    plots=AutoencoderPlots,
    presets=_mlp_presets(DAE_TASK),
)
def dae_mlp(
    *,
    input_shape: tuple[int, ...],
    hidden: tuple[int, ...] = (),
    code_dim: int = 500,
    activation: str = "relu",
    code_activation: str = "sigmoid",
) -> Autoencoder:
    """Denoising autoencoder (Vincent et al. 2008), MLP: reconstructs x from a masked or noisy copy.

    Args:
        input_shape: shape of one example, e.g. (1, 28, 28), flattened by the encoder; filled from the data when unset.
        hidden: widths of the encoder's layers before the code, mirrored by the decoder; () gives h = s(Wx + b).
        code_dim: width of the code h (500 in Vincent et al. 2008 on MNIST).
        activation: nonlinearity of the hidden layers (unused when hidden is empty): relu | tanh | softplus | gelu.
        code_activation: s, applied to the code layer: sigmoid | relu | tanh | linear.
    """
    return _mlp(input_shape, hidden, code_dim, activation, code_activation)


@register_model(
    family="autoencoder",
    task="generate",
    paradigm="generative",
    objective=DenoisingObjective,
    pipeline=AutoencoderPipeline,
    plots=AutoencoderPlots,
    presets=_conv_presets(DAE_TASK),
)
def dae_conv(
    *,
    input_shape: tuple[int, ...],
    channels: tuple[int, ...] = (32, 64),
    code_dim: int = 64,
    activation: str = "relu",
    code_activation: str = "linear",
    block: str = "transpose",
) -> Autoencoder:
    """Denoising autoencoder (Vincent et al. 2008), convolutional encoder and upsample-block decoder.

    Args:
        input_shape: image shape (C, H, W) with H, W >= 2 ** len(channels); filled from the data when unset.
        channels: output channels of the encoder's stride-2 convs (kernel 4, each halves H, W), mirrored by the decoder.
        code_dim: width of the code h, a linear layer on the flattened conv features.
        activation: nonlinearity between the layers (none on the code or the output): relu | tanh | softplus | gelu.
        code_activation: s, applied to the code layer: sigmoid | relu | tanh | linear.
        block: the decoder's x2 upsampling: transpose (transposed conv) | resize (nearest + conv) | shuffle (sub-pixel).
    """
    return _conv(input_shape, channels, code_dim, activation, code_activation, block)


@register_model(
    family="autoencoder",
    task="generate",
    paradigm="generative",
    objective=SparseObjective,
    pipeline=AutoencoderPipeline,
    plots=AutoencoderPlots,
    presets=_mlp_presets(SPARSE_TASK),
)
def sparse_ae_mlp(
    *,
    input_shape: tuple[int, ...],
    hidden: tuple[int, ...] = (),
    code_dim: int = 500,
    activation: str = "relu",
    code_activation: str = "sigmoid",
) -> Autoencoder:
    """Sparse autoencoder, MLP: KL(rho || mean activation) or L1 penalty on the sigmoid codes.

    Args:
        input_shape: shape of one example, e.g. (1, 28, 28), flattened by the encoder; filled from the data when unset.
        hidden: widths of the encoder's layers before the code, mirrored by the decoder; () gives h = s(Wx + b).
        code_dim: width of the code h (500 in Vincent et al. 2008 on MNIST).
        activation: nonlinearity of the hidden layers (unused when hidden is empty): relu | tanh | softplus | gelu.
        code_activation: s, applied to the code layer: sigmoid | relu | tanh | linear (the KL penalty needs sigmoid).
    """
    return _mlp(input_shape, hidden, code_dim, activation, code_activation)


@register_model(
    family="autoencoder",
    task="generate",
    paradigm="generative",
    objective=SparseObjective,
    pipeline=AutoencoderPipeline,
    plots=AutoencoderPlots,
    presets=_conv_presets(SPARSE_TASK),
)
def sparse_ae_conv(
    *,
    input_shape: tuple[int, ...],
    channels: tuple[int, ...] = (32, 64),
    code_dim: int = 64,
    activation: str = "relu",
    code_activation: str = "sigmoid",
    block: str = "transpose",
) -> Autoencoder:
    """Sparse autoencoder, convolutional: KL or L1 sparsity penalty on the codes.

    Args:
        input_shape: image shape (C, H, W) with H, W >= 2 ** len(channels); filled from the data when unset.
        channels: output channels of the encoder's stride-2 convs (kernel 4, each halves H, W), mirrored by the decoder.
        code_dim: width of the code h, a linear layer on the flattened conv features.
        activation: nonlinearity between the layers (none on the code or the output): relu | tanh | softplus | gelu.
        code_activation: s, applied to the code layer: sigmoid | relu | tanh | linear (the KL penalty needs sigmoid).
        block: the decoder's x2 upsampling: transpose (transposed conv) | resize (nearest + conv) | shuffle (sub-pixel).
    """
    return _conv(input_shape, channels, code_dim, activation, code_activation, block)


@register_model(
    family="autoencoder",
    task="generate",
    paradigm="generative",
    objective=ContractiveObjective,
    pipeline=AutoencoderPipeline,
    plots=AutoencoderPlots,
    presets=_mlp_presets(CAE_TASK),
)
def cae_mlp(
    *,
    input_shape: tuple[int, ...],
    hidden: tuple[int, ...] = (),
    code_dim: int = 500,
    activation: str = "relu",
    code_activation: str = "sigmoid",
) -> Autoencoder:
    """Contractive autoencoder (Rifai et al. 2011), MLP: exact encoder-Jacobian Frobenius penalty.

    Args:
        input_shape: shape of one example, e.g. (1, 28, 28), flattened by the encoder; filled from the data when unset.
        hidden: encoder widths before the code, mirrored by the decoder; () gives h = s(Wx + b), closed-form Jacobian.
        code_dim: width of the code h (500 in Vincent et al. 2008 on MNIST).
        activation: nonlinearity of the hidden layers (unused when hidden is empty): relu | tanh | softplus | gelu.
        code_activation: s, applied to the code layer: sigmoid | relu | tanh | linear.
    """
    return _mlp(input_shape, hidden, code_dim, activation, code_activation)


@register_model(
    family="autoencoder",
    task="generate",
    paradigm="generative",
    objective=ContractiveObjective,
    pipeline=AutoencoderPipeline,
    plots=AutoencoderPlots,
    presets=_conv_presets(CAE_CONV_TASK),
)
def cae_conv(
    *,
    input_shape: tuple[int, ...],
    channels: tuple[int, ...] = (32, 64),
    code_dim: int = 64,
    activation: str = "relu",
    code_activation: str = "linear",
    block: str = "transpose",
) -> Autoencoder:
    """Contractive autoencoder (Rifai et al. 2011), convolutional: Hutchinson estimate of the Jacobian penalty.

    Args:
        input_shape: image shape (C, H, W) with H, W >= 2 ** len(channels); filled from the data when unset.
        channels: output channels of the encoder's stride-2 convs (kernel 4, each halves H, W), mirrored by the decoder.
        code_dim: width of the code h, a linear layer on the flattened conv features.
        activation: nonlinearity between the layers (none on the code or the output): relu | tanh | softplus | gelu.
        code_activation: s, applied to the code layer: sigmoid | relu | tanh | linear.
        block: the decoder's x2 upsampling: transpose (transposed conv) | resize (nearest + conv) | shuffle (sub-pixel).
    """
    return _conv(input_shape, channels, code_dim, activation, code_activation, block)
