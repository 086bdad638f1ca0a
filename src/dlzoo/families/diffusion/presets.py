"""Registered diffusion entrypoints and their presets (presets are data: partial run configs).

``ddpm_2d`` (MLP denoiser, 2-D toys): ``tiny`` (2000 ring draws, seconds), ``default`` = ``ring``,
``grid``, ``swiss_roll``, ``moons``: 10000 draws, 8000 Adam steps of batch 256 (benchmarks/diffusion_toy2d.py).
``ddpm_mnist`` (U-Net, class-conditional with classifier-free guidance): ``tiny`` on scikit-learn's
8x8 digits (17 grey levels, offline), ``default`` = ``mnist`` (a CPU budget: 16 base channels, 4 epochs,
13-26 CPU-minutes at the 0.5-1 s a bf16 step measured).
"""

from __future__ import annotations

from dlzoo.families.diffusion.model import Diffusion
from dlzoo.families.diffusion.networks import MLPDenoiser, UNet
from dlzoo.families.diffusion.objective import DiffusionObjective
from dlzoo.families.diffusion.pipeline import DiffusionPipeline
from dlzoo.families.diffusion.plots import DiffusionPlots
from dlzoo.registry import RegistryError, register_model

REGISTER = {"family": "diffusion", "task": "generate", "paradigm": "generative", "objective": DiffusionObjective}
SERVE = {"pipeline": DiffusionPipeline, "plots": DiffusionPlots}

TINY_2D = {
    "model": {"hidden": 64, "blocks": 2, "timesteps": 200, "ema_decay": 0.99, "x_frequencies": 4},
    "data": {"name": "ring", "n_train": 2000, "n_test": 500},
    "train": {"epochs": 4, "batch_size": 128, "lr": 3e-3, "log_every": 10},
    "task": {"modes": "ring", "eval_samples": 500, "eval_steps": 20, "nll_examples": 200, "nll_steps": 10},
}
# 10000 draws, batch 256: 40 steps an epoch, 200 epochs = 8000 Adam steps, cosine decay
TOY_TRAIN = {"epochs": 200, "batch_size": 256, "lr": 1e-3, "scheduler": "cosine", "log_every": 200, "eval_every": 200}
TOY_TASK = {"nll_examples": 2000, "nll_steps": 100}


# sin/cos features of x at 2^0..2^5 for the sharp mixtures (std 0.02-0.05 at a spread of +-4): at these 8000
# steps they lift the grid's high-quality samples from 22% to 90% (5 seeds); on the smooth swiss roll they
# cost NLL (2.29 against 1.98, 5 and 3 seeds), so it and moons keep raw x (the diffusion README's Results)
SHARP = {"x_frequencies": 6}


def _toy(data: str, modes: str = "none") -> dict:
    model = SHARP if modes != "none" else {}
    return {"model": model, "data": {"name": data}, "train": TOY_TRAIN, "task": {**TOY_TASK, "modes": modes}}


@register_model(
    **REGISTER,
    **SERVE,
    presets={
        "tiny": TINY_2D,
        "default": _toy("ring", "ring"),
        "ring": _toy("ring", "ring"),
        "grid": _toy("grid", "grid"),
        "swiss_roll": _toy("swiss_roll"),
        "moons": _toy("moons"),
    },
)
def ddpm_2d(
    *,
    input_shape: tuple[int, ...],
    hidden: int = 128,
    blocks: int = 3,
    emb_dim: int = 32,
    schedule: str = "linear",
    timesteps: int = 1000,
    prediction: str = "eps",
    ema_decay: float = 0.999,
    x_frequencies: int = 0,
) -> Diffusion:
    """DDPM (Ho et al. 2020) for vectors: a residual MLP denoiser with a sinusoidal time embedding.

    Args:
        input_shape: (D,), filled from the data when unset.
        hidden: width of the residual MLP.
        blocks: residual blocks (each adds a projection of the time embedding).
        emb_dim: size of the sinusoidal time embedding.
        schedule: linear (Ho et al. 2020) | cosine (Nichol & Dhariwal 2021).
        timesteps: T, the diffusion steps of training.
        prediction: what the network predicts: eps | x0 | v.
        ema_decay: decay of the weights' moving average used for sampling (0 = none).
        x_frequencies: sin/cos features of x at frequencies 2^0 .. 2^(F-1) beside x itself (0 = raw x).
    """
    if x_frequencies < 0:
        raise RegistryError(f"x_frequencies is a count of octaves, >= 0; got {x_frequencies}")
    if len(tuple(input_shape)) != 1:
        raise RegistryError(f"ddpm_2d needs vectors of shape (D,), got {tuple(input_shape)} (ddpm_mnist for images)")
    d = int(input_shape[0])
    net = MLPDenoiser(d, hidden=hidden, blocks=blocks, emb_dim=emb_dim, x_frequencies=x_frequencies)
    return Diffusion(
        net, input_shape=(d,), schedule=schedule, timesteps=timesteps, prediction=prediction, ema_decay=ema_decay
    )


TINY_IMAGES = {
    "model": {"channels": 8, "mults": [1, 2], "timesteps": 100, "ema_decay": 0.99, "levels_of_data": 17},
    "data": {"name": "digits_images"},
    "train": {"epochs": 2, "batch_size": 64, "lr": 2e-3, "log_every": 10},
    "task": {"eval_steps": 10},
}
# A CPU budget (benchmarks/diffusion_mnist.py): 16 base channels (0.28M weights; 32 channels = 1.11M took
# 1.3 s a step of batch 128 under bf16 on one core, 16 took 0.5 s), 28 -> 14 -> 7 with attention only at
# 7x7; 4 epochs of 391 steps at a constant lr of 1e-3 (no schedule: a run can be resumed for more epochs).
MNIST = {
    "model": {"channels": 16, "mults": [1, 2, 2], "ema_decay": 0.999, "levels_of_data": 256},
    "data": {"name": "mnist", "val_size": 10000},
    "train": {"epochs": 4, "batch_size": 128, "lr": 1e-3, "log_every": 50, "grad_clip": 1.0, "eval_every": 2},
    "task": {"eval_steps": 50},
}


@register_model(**REGISTER, **SERVE, presets={"tiny": TINY_IMAGES, "default": MNIST, "mnist": MNIST})
def ddpm_mnist(
    *,
    input_shape: tuple[int, ...],
    channels: int = 32,
    mults: tuple[int, ...] = (1, 2, 2),
    blocks: int = 1,
    dropout: float = 0.1,
    num_classes: int = 10,
    schedule: str = "linear",
    timesteps: int = 1000,
    prediction: str = "eps",
    ema_decay: float = 0.999,
    levels_of_data: int = 256,
) -> Diffusion:
    """DDPM for images with a small U-Net, class-conditional with classifier-free guidance.

    Args:
        input_shape: (C, H, W), filled from the data when unset (1x28x28 for MNIST).
        channels: base channels of the U-Net (DDPM's CIFAR-10 net: 128).
        mults: channel multiplier per resolution; x2 downsampling between them (28 -> 14 -> 7).
        blocks: residual blocks per resolution; self-attention at the lowest one (7x7) and in the middle.
        dropout: dropout in the residual blocks (DDPM: 0.1).
        num_classes: classes of the conditioning (0: unconditional); one more "null" class for guidance.
        schedule: linear | cosine.
        timesteps: T.
        prediction: eps | x0 | v.
        ema_decay: decay of the weights' moving average used for sampling (DDPM: 0.9999; 0 = none).
        levels_of_data: L, the grey levels of the data (256 for 8-bit MNIST, 17 for the 8x8 digits): bits/dim.
    """
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise RegistryError(f"ddpm_mnist needs images of shape (C, H, W), got {shape}: use an image dataset")
    net = UNet(shape[0], channels=channels, mults=tuple(mults), blocks=blocks, dropout=dropout, num_classes=num_classes)
    return Diffusion(
        net,
        input_shape=shape,
        schedule=schedule,
        timesteps=timesteps,
        prediction=prediction,
        ema_decay=ema_decay,
        num_classes=num_classes,
        levels=levels_of_data,
    )
