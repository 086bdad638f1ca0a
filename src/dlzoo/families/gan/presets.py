"""Registered GAN entrypoints and their presets (presets are data: partial run configs).

Presets: ``tiny`` (seconds; the contract tests), ``default``, ``ring`` / ``grid`` (the VEEGAN / PacGAN
toy protocol, shortened for one CPU core: see README.md), ``ring_long`` / ``grid_long`` (16x the steps,
no BatchNorm in G: ~6 minutes) and ``mnist`` (DCGAN and WGAN-GP, about
10 minutes of one CPU core each; ``benchmarks/gan_mnist.py`` computes their FID/KID).
"""

from __future__ import annotations

import math

from dlzoo.families.gan.model import GAN, ConvCritic, ConvGenerator, MLPCritic, MLPGenerator
from dlzoo.families.gan.objective import GANObjective, WGANGPObjective
from dlzoo.families.gan.pipeline import GANPipeline
from dlzoo.families.gan.plots import GANPlots
from dlzoo.registry import RegistryError, choices_error, register_model

ARCHS = ("mlp", "conv")

# the toy protocol's data: 10000 train draws of the mixture (PacGAN drew 100000 per epoch; see README)
RING = {"name": "ring"}
GRID = {"name": "grid"}
TINY_RING = {"name": "ring", "n_train": 2000, "n_test": 500}
# PacGAN's toy recipe (App.; authors' code): Adam lr 1e-4, beta1 0.8, batch 100, 400 epochs of 1000 steps,
# G 4 x 400 ReLU + BN, D 3 x 200 LinearMaxout(5) (the builders' defaults). One shared CPU core affords
# ~2500 steps per run (benchmarks/gan_toy2d.py: 40 runs in ~20 CPU minutes), so the ring/grid presets use
# smaller nets (G 3 x 128 + BN, D 3 x 128 LeakyReLU), lr 1e-3 with a cosine decay to 0, same beta1.
TOY_TASK = {"lr_g": 1e-3, "lr_d": 1e-3, "betas_g": [0.8, 0.999], "betas_d": [0.8, 0.999]}
TOY_MODEL = {
    "latent_dim": 2,
    "hidden_g": [128, 128, 128],
    "hidden_d": [128, 128, 128],
    "critic_activation": "leaky_relu",
}
TINY_MODEL = {"latent_dim": 2, "hidden_g": [64, 64], "hidden_d": [64, 64], "critic_activation": "leaky_relu"}
TINY_TRAIN = {"epochs": 3, "batch_size": 100, "log_every": 10}
TOY_TRAIN = {"epochs": 25, "batch_size": 100, "scheduler": "cosine", "log_every": 100, "eval_every": 5}
# PacGAN's critic sees 100 packs of m = 4 per step (the authors' code draws m batches of 100): batch 400,
# and 4x the epochs, so that both models take the same 2500 generator steps
PAC_TRAIN = {**TOY_TRAIN, "epochs": 100, "batch_size": 400, "eval_every": 20}
# ring_long / grid_long: 16x the steps (40000 generator steps, ~6 CPU minutes) and no BatchNorm in G, whose
# running statistics hurt the eval-mode samples of long runs: the recipe of the README's long rows
# (benchmarks/gan_toy2d.py --suffix=-x16-nobn with the same overrides, see the test)
LONG_MODEL = {**TOY_MODEL, "batchnorm_g": False}
LONG_TRAIN = {**TOY_TRAIN, "epochs": 400, "eval_every": 100}
PAC_LONG_TRAIN = {**PAC_TRAIN, "epochs": 1600, "eval_every": 400}


def toy_presets(*, train: dict, long_train: dict) -> dict[str, dict]:
    """The MLP GANs' presets: tiny, default (= ring), ring / grid, ring_long / grid_long."""
    short = {"model": TOY_MODEL, "task": TOY_TASK, "train": train}
    long = {"model": LONG_MODEL, "task": TOY_TASK, "train": long_train}
    return {
        "tiny": {"model": TINY_MODEL, "data": TINY_RING, "task": TOY_TASK, "train": TINY_TRAIN},
        "default": {**short, "data": RING},
        "ring": {**short, "data": RING},
        "grid": {**short, "data": GRID},
        "ring_long": {**long, "data": RING},
        "grid_long": {**long, "data": GRID},
    }


DIGITS = {"name": "digits_images"}  # scikit-learn's 8x8 digits in [0, 1]: no download
MNIST = {"name": "mnist", "val_size": 10000}  # 50000 train / 10000 val / 10000 test
MNIST_TRAIN = {"epochs": 3, "batch_size": 64, "log_every": 100, "checkpoint_every": 1}


@register_model(
    family="gan",
    task="generate",
    paradigm="adversarial",
    objective=GANObjective,
    pipeline=GANPipeline,
    plots=GANPlots,
    presets=toy_presets(train=TOY_TRAIN, long_train=LONG_TRAIN),
)
def gan(
    *,
    input_shape: tuple[int, ...],
    latent_dim: int = 2,
    hidden_g: tuple[int, ...] = (400, 400, 400, 400),
    hidden_d: tuple[int, ...] = (200, 200, 200),
    batchnorm_g: bool = True,
    critic_activation: str = "maxout",
    out_activation: str = "identity",
) -> GAN:
    """GAN with MLP generator and discriminator, non-saturating loss (Goodfellow et al. 2014).

    Args:
        input_shape: shape of one sample, e.g. (2,) for the toy 2-D points; filled from the data when unset.
        latent_dim: dimension of the generator's noise z ~ N(0, I).
        hidden_g: widths of the generator's hidden layers, noise to sample (Linear -> BatchNorm -> ReLU each).
        hidden_d: widths of the discriminator's hidden layers, input to score.
        batchnorm_g: BatchNorm1d after every hidden linear layer of the generator.
        critic_activation: discriminator nonlinearity: maxout (LinearMaxout, 5 pieces) | leaky_relu (slope 0.2) | relu.
        out_activation: the generator's output: identity (2-D points) | sigmoid (images in [0, 1]).
    """
    return _mlp_gan(
        input_shape=input_shape,
        latent_dim=latent_dim,
        hidden_g=hidden_g,
        hidden_d=hidden_d,
        batchnorm_g=batchnorm_g,
        critic_activation=critic_activation,
        out_activation=out_activation,
        pack=1,
    )


@register_model(
    family="gan",
    task="generate",
    paradigm="adversarial",
    objective=GANObjective,
    pipeline=GANPipeline,
    plots=GANPlots,
    presets=toy_presets(train=PAC_TRAIN, long_train=PAC_LONG_TRAIN),
)
def pacgan(
    *,
    input_shape: tuple[int, ...],
    latent_dim: int = 2,
    pack: int = 4,
    hidden_g: tuple[int, ...] = (400, 400, 400, 400),
    hidden_d: tuple[int, ...] = (200, 200, 200),
    batchnorm_g: bool = True,
    critic_activation: str = "maxout",
    out_activation: str = "identity",
) -> GAN:
    """PacGAN: the GAN whose discriminator judges ``pack`` samples at once (Lin et al. 2018).

    Args:
        input_shape: shape of one sample, e.g. (2,) for the toy 2-D points; filled from the data when unset.
        latent_dim: dimension of the generator's noise z ~ N(0, I).
        pack: m, samples concatenated into one discriminator input, all real or all fake; divides the batch size.
        hidden_g: widths of the generator's hidden layers, noise to sample (Linear -> BatchNorm -> ReLU each).
        hidden_d: widths of the discriminator's hidden layers, input to score.
        batchnorm_g: BatchNorm1d after every hidden linear layer of the generator.
        critic_activation: discriminator nonlinearity: maxout (LinearMaxout, 5 pieces) | leaky_relu (slope 0.2) | relu.
        out_activation: the generator's output: identity (2-D points) | sigmoid (images in [0, 1]).
    """
    return _mlp_gan(
        input_shape=input_shape,
        latent_dim=latent_dim,
        hidden_g=hidden_g,
        hidden_d=hidden_d,
        batchnorm_g=batchnorm_g,
        critic_activation=critic_activation,
        out_activation=out_activation,
        pack=pack,
    )


@register_model(
    family="gan",
    task="generate",
    paradigm="adversarial",
    objective=GANObjective,
    pipeline=GANPipeline,
    plots=GANPlots,
    presets={
        "tiny": {
            "model": {"latent_dim": 16, "channels_g": [32, 16], "channels_d": [16, 32]},
            "data": DIGITS,
            "task": {"eval_samples": 200},
            "train": {"epochs": 2, "batch_size": 64, "log_every": 5},
        },
        "default": {
            "model": {"latent_dim": 32, "channels_g": [64, 32], "channels_d": [32, 64]},
            "data": {**DIGITS, "val_size": 0.2},
            "task": {"eval_samples": 500},
            "train": {"epochs": 100, "batch_size": 64, "log_every": 50, "eval_every": 10},
        },
        # Radford et al. 2016 recipe (Adam 2e-4, beta1 0.5, batch 128 in the paper; 64 here), a small
        # G (64/32 channels: 7 -> 14 -> 28) so that 3 epochs fit in ~10 minutes of one CPU core
        "mnist": {
            "model": {"latent_dim": 100, "channels_g": [64, 32], "channels_d": [32, 64]},
            "data": MNIST,
            "task": {"eval_samples": 2000},
            "train": MNIST_TRAIN,
        },
    },
)
def dcgan(
    *,
    input_shape: tuple[int, ...],
    latent_dim: int = 100,
    channels_g: tuple[int, ...] = (128, 64),
    channels_d: tuple[int, ...] = (64, 128),
    upsample: str = "transpose",
) -> GAN:
    """DCGAN: transposed-conv generator with BatchNorm, strided-conv LeakyReLU discriminator (Radford et al. 2016).

    Args:
        input_shape: square image shape (C, H, W), H divisible by 2 ** len(channels_g); filled from the data when unset.
        latent_dim: dimension of the generator's noise z ~ N(0, I) (100 in Radford et al. 2016).
        channels_g: generator feature channels, coarsest first (z is projected to the first); one x2 upsampling each.
        channels_d: discriminator's stride-2 conv channels (kernel 4, LeakyReLU 0.2; BatchNorm on all but the first).
        upsample: the generator's x2 upsampling: transpose (transposed conv) | resize (nearest + conv) | shuffle.
    """
    input_shape = _image_shape(input_shape, "dcgan")
    return GAN(
        generator=ConvGenerator(
            latent_dim=latent_dim,
            output_shape=input_shape,
            channels=tuple(channels_g),
            upsample_kind=upsample,
            activation="sigmoid",
        ),
        critic=ConvCritic(input_shape=input_shape, channels=tuple(channels_d), norm="batch", pack=1),
        latent_dim=latent_dim,
        input_shape=input_shape,
    )


@register_model(
    family="gan",
    task="generate",
    paradigm="adversarial",
    objective=WGANGPObjective,
    pipeline=GANPipeline,
    plots=GANPlots,
    presets={
        "tiny": {
            "model": {"arch": "mlp", "latent_dim": 2, "hidden_g": [64, 64], "hidden_d": [64, 64]},
            "data": TINY_RING,
            "task": {"n_critic": 2},
            "train": TINY_TRAIN,
        },
        # Gulrajani et al. 2017 toy setting (App.): 3 x 512 ReLU in G and D, no BatchNorm
        "default": {"model": {"arch": "mlp"}, "data": RING, "train": TOY_TRAIN},
        "ring": {"model": {"arch": "mlp"}, "data": RING, "train": TOY_TRAIN},
        "grid": {"model": {"arch": "mlp"}, "data": GRID, "train": TOY_TRAIN},
        # conv G (DCGAN's, with BatchNorm) and a BatchNorm-free critic; Alg. 1 hyperparameters; 3 epochs =
        # 2346 critic and 469 generator steps (323 s in benchmarks/gan_mnist.py; more epochs would help)
        "mnist": {
            "model": {"arch": "conv", "latent_dim": 100, "channels_g": [64, 32], "channels_d": [32, 64]},
            "data": MNIST,
            "task": {"eval_samples": 2000},
            "train": MNIST_TRAIN,
        },
    },
)
def wgan_gp(
    *,
    input_shape: tuple[int, ...],
    arch: str = "mlp",
    latent_dim: int = 2,
    hidden_g: tuple[int, ...] = (512, 512, 512),
    hidden_d: tuple[int, ...] = (512, 512, 512),
    channels_g: tuple[int, ...] = (64, 32),
    channels_d: tuple[int, ...] = (32, 64),
    upsample: str = "transpose",
) -> GAN:
    """WGAN-GP: Wasserstein critic with gradient penalty (Gulrajani et al. 2017); arch "mlp" (2-D) or "conv".

    Args:
        input_shape: one sample: (2,) toy points or (C, H, W) images (arch=conv); filled from the data when unset.
        arch: mlp (uses hidden_g, hidden_d) | conv (DCGAN-shaped, images only; uses channels_g, channels_d, upsample).
        latent_dim: dimension of the generator's noise z ~ N(0, I).
        hidden_g: arch=mlp; widths of the generator's hidden ReLU layers (no BatchNorm), noise to sample.
        hidden_d: arch=mlp; widths of the critic's hidden ReLU layers, input to score.
        channels_g: arch=conv; generator feature channels, coarsest first, one x2 upsampling per entry.
        channels_d: arch=conv; output channels of the critic's stride-2 convs (kernel 4, LeakyReLU 0.2, no BatchNorm).
        upsample: arch=conv; the generator's x2 upsampling: transpose | resize (nearest + conv) | shuffle (sub-pixel).
    """
    if arch not in ARCHS:
        raise RegistryError(choices_error("wgan_gp arch", arch, ARCHS))
    if arch == "mlp":  # hidden_* are used; channels_* and upsample are not
        return _mlp_gan(
            input_shape=input_shape,
            latent_dim=latent_dim,
            hidden_g=hidden_g,
            hidden_d=hidden_d,
            batchnorm_g=False,
            critic_activation="relu",
            out_activation="sigmoid" if len(input_shape) == 3 else "identity",
            pack=1,
        )
    input_shape = _image_shape(input_shape, "wgan_gp arch=conv")  # channels_* and upsample are used
    return GAN(
        generator=ConvGenerator(
            latent_dim=latent_dim,
            output_shape=input_shape,
            channels=tuple(channels_g),
            upsample_kind=upsample,
            activation="sigmoid",
        ),
        critic=ConvCritic(input_shape=input_shape, channels=tuple(channels_d), norm="none", pack=1),
        latent_dim=latent_dim,
        input_shape=input_shape,
    )


def _mlp_gan(
    *,
    input_shape: tuple[int, ...],
    latent_dim: int,
    hidden_g: tuple[int, ...],
    hidden_d: tuple[int, ...],
    batchnorm_g: bool,
    critic_activation: str,
    out_activation: str,
    pack: int,
) -> GAN:
    input_shape = tuple(input_shape)
    return GAN(
        generator=MLPGenerator(
            latent_dim=latent_dim,
            hidden=tuple(hidden_g),
            output_shape=input_shape,
            batchnorm=batchnorm_g,
            activation=out_activation,
        ),
        critic=MLPCritic(input_shape=input_shape, hidden=tuple(hidden_d), pack=pack, activation=critic_activation),
        latent_dim=latent_dim,
        input_shape=input_shape,
        pack=pack,
    )


def _image_shape(input_shape: tuple[int, ...], who: str) -> tuple[int, int, int]:
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise RegistryError(
            f"{who} needs image data of shape (C, H, W), got input_shape {list(shape)} "
            f"({math.prod(shape)} features): use an image dataset without flatten"
        )
    return shape  # type: ignore[return-value]
