"""Registered energy-based models and their presets (presets are data: partial run configs).

RBMs (``rbm``: binary units; ``grbm``: Gaussian visible units) train with CD-k / PCD on the free
energy; Hopfield networks (``hopfield``, ``modern_hopfield``) store the training patterns in closed
form (one round); ``ebm`` is a Langevin-trained energy: an MLP on the 2-D toys, a conv net on MNIST
(preset ``mnist``, ``benchmarks/ebm_mnist.py``). Presets: ``tiny`` (seconds;
the contract tests), ``default`` (8x8 digits, about a minute), and the benchmark ones (``mnist25``,
``mnist500``: binarized MNIST, ``benchmarks/rbm_mnist.py``).
"""

from __future__ import annotations

from dlzoo.families.energy.ebm import ConvEnergy, EnergyMLP
from dlzoo.families.energy.ebm_objective import LangevinObjective
from dlzoo.families.energy.hopfield import ClassicalHopfield, ModernHopfield
from dlzoo.families.energy.hopfield_objective import HopfieldObjective, ModernHopfieldObjective
from dlzoo.families.energy.objective import RBMObjective
from dlzoo.families.energy.pipeline import EBMPipeline, HopfieldPipeline, RBMPipeline
from dlzoo.families.energy.plots import EBMPlots, HopfieldPlots, RBMPlots
from dlzoo.families.energy.rbm import RBM
from dlzoo.registry import RegistryError, register_model

BINARY_DIGITS = {"name": "digits_images", "binarize": "threshold"}  # 8x8 digits, x > 0.5: no download
# binarized MNIST like Salakhutdinov & Murray (2008): 60000 train / 10000 test, one fixed Bernoulli draw
MNIST = {"name": "mnist", "flatten": True, "binarize": "stochastic", "binarize_seed": 0}
# plain SGD with momentum on the CD gradient (Hinton 2010's recipe: lr 0.05-0.1, batches of 10-100)
SGD = {"optimizer": "sgd", "momentum": 0.5}
# MNIST: momentum 0.9 and a cosine decay of the learning rate to 0 over the run (a short run's recipe)
MNIST_SGD = {"optimizer": "sgd", "momentum": 0.9, "scheduler": "cosine"}
# MNIST: persistent chains (Tieleman 2008), 100 of them, one Gibbs sweep a step, weight cost 2e-4 on W
PCD = {"k": 1, "persistent": True, "n_chains": 100, "weight_cost": 2e-4}


@register_model(
    family="energy",
    task="generate",
    paradigm="generative",
    objective=RBMObjective,
    pipeline=RBMPipeline,
    plots=RBMPlots,
    presets={
        "tiny": {
            "model": {"n_hidden": 12},
            "data": BINARY_DIGITS,
            "task": {"k": 1, "ais_chains": 32, "ais_betas": 200},
            "train": {**SGD, "epochs": 4, "batch_size": 20, "lr": 0.05, "log_every": 20},
        },
        "default": {
            "model": {"n_hidden": 20},
            "data": {**BINARY_DIGITS, "val_size": 0.1},
            "task": {"k": 1, "persistent": True, "ais_chains": 100, "ais_betas": 2000},
            "train": {**SGD, "epochs": 50, "batch_size": 20, "lr": 0.05, "log_every": 50, "eval_every": 10},
        },
        # Salakhutdinov & Murray (2008), Table 1: 25 hidden units, CD-1: test log-likelihood about -143 nats.
        # PCD-1 (Tieleman 2008) with 100 chains, a small cosine-decayed learning rate and a weight cost on W
        # (Hinton 2010): the likelihood rises to the end (CD-1 and CD-5 peak, then fall: README, Results)
        "mnist25": {
            "model": {"n_hidden": 25},
            "data": MNIST,
            "task": {**PCD, "exact_max_hidden": 25, "ais_chains": 100, "ais_betas": 14500},
            "train": {**MNIST_SGD, "epochs": 30, "batch_size": 100, "lr": 0.01, "log_every": 100, "eval_every": 100},
        },
        # the 500-unit model (published CD-1 -125.5, CD-3 -105.5, CD-25 -86.3 nats, AIS); the same PCD recipe
        # for the epochs a budget of CPU-minutes allows
        "mnist500": {
            "model": {"n_hidden": 500},
            "data": MNIST,
            "task": {**PCD, "exact_max_hidden": 0, "ais_chains": 100, "ais_betas": 14500, "ais_max_gflop": 5000},
            "train": {**MNIST_SGD, "epochs": 160, "batch_size": 100, "lr": 0.01, "log_every": 100, "eval_every": 1000},
        },
    },
)
def rbm(
    *, input_shape: tuple[int, ...], n_hidden: int = 25, init_std: float = 0.01, init_visible: str = "base_rate"
) -> RBM:
    """Bernoulli-Bernoulli restricted Boltzmann machine; forward is the free energy (Hinton 2002).

    Args:
        input_shape: shape of one binary example, flattened to the visible units; filled from the data when unset.
        n_hidden: H, binary hidden units (exact log Z enumerates 2^H states: H <= ~25; AIS beyond).
        init_std: std of the initial weights N(0, init_std^2) (Hinton 2010: 0.01); hidden biases start at 0.
        init_visible: "base_rate" (visible biases = logit of the training pixel means, Hinton 2010 Sec. 8;
            on binarized MNIST, 20 epochs of CD-1 with 25 units: -159.7 nats against -165.9 from "zero") | "zero".
    """
    return RBM(
        input_shape=tuple(input_shape),
        n_hidden=n_hidden,
        visible="bernoulli",
        init_std=init_std,
        init_visible=init_visible,
    )


@register_model(
    family="energy",
    task="generate",
    paradigm="generative",
    objective=RBMObjective,
    pipeline=RBMPipeline,
    plots=RBMPlots,
    presets={
        "tiny": {
            "model": {"n_hidden": 12},
            "data": {"name": "digits_images"},
            "task": {"k": 1, "ais_chains": 0},
            "train": {**SGD, "epochs": 4, "batch_size": 20, "lr": 0.005, "log_every": 20},
        },
        "default": {
            "model": {"n_hidden": 20},
            "data": {"name": "digits_images", "val_size": 0.1},
            "task": {"k": 1, "ais_chains": 0},
            "train": {**SGD, "epochs": 50, "batch_size": 20, "lr": 0.005, "log_every": 50, "eval_every": 10},
        },
    },
)
def grbm(*, input_shape: tuple[int, ...], n_hidden: int = 20, init_std: float = 0.01) -> RBM:
    """Gaussian-Bernoulli RBM: unit-variance Gaussian visible units on standardized data, binary hidden units.

    Args:
        input_shape: shape of one real-valued example, flattened; filled from the data when unset.
        n_hidden: H, binary hidden units (the exact log-likelihood enumerates 2^H states).
        init_std: std of the initial weights N(0, init_std^2); biases start at 0.
    """
    return RBM(input_shape=tuple(input_shape), n_hidden=n_hidden, visible="gaussian", init_std=init_std)


@register_model(
    family="energy",
    task="generate",
    paradigm="generative",
    objective=HopfieldObjective,
    pipeline=HopfieldPipeline,
    plots=HopfieldPlots,
    presets={
        # thresholded digits are strongly correlated: the Hebbian rule fails on them, the pseudo-inverse does not
        "tiny": {
            "data": BINARY_DIGITS,
            "task": {"rule": "pseudoinverse", "n_patterns": 8, "corruption": 0.1},
            "train": {"epochs": 1, "log_every": 1},
        },
        "default": {
            "data": BINARY_DIGITS,
            "task": {"rule": "pseudoinverse", "n_patterns": 20, "corruption": 0.1},
            "train": {"epochs": 1, "log_every": 1},
        },
        "mnist": {
            "data": {"name": "mnist", "flatten": True, "binarize": "threshold"},
            "task": {"rule": "pseudoinverse", "n_patterns": 100, "corruption": 0.1},
            "train": {"epochs": 1, "log_every": 1},
        },
    },
)
def hopfield(*, input_shape: tuple[int, ...], seed: int = 0) -> ClassicalHopfield:
    """Classical binary Hopfield network (Hopfield 1982): Hebbian or pseudo-inverse storage, async/sync updates.

    Args:
        input_shape: shape of one binary pattern, flattened to N units; filled from the data when unset.
        seed: seed of the small random symmetric couplings the network has before anything is stored.
    """
    return ClassicalHopfield(input_shape=tuple(input_shape), seed=seed)


@register_model(
    family="energy",
    task="generate",
    paradigm="generative",
    objective=ModernHopfieldObjective,
    pipeline=HopfieldPipeline,
    plots=HopfieldPlots,
    presets={
        "tiny": {
            "model": {"n_memories": 200, "beta": 1.0},
            "data": BINARY_DIGITS,
            "train": {"epochs": 1, "log_every": 1},
        },
        "default": {
            "model": {"n_memories": 1000, "beta": 1.0},
            "data": BINARY_DIGITS,
            "train": {"epochs": 1, "log_every": 1},
        },
        "mnist": {
            "model": {"n_memories": 10000, "beta": 1.0},
            "data": {"name": "mnist", "flatten": True, "binarize": "threshold"},
            "train": {"epochs": 1, "log_every": 1},
        },
    },
)
def modern_hopfield(
    *, input_shape: tuple[int, ...], n_memories: int = 1000, beta: float = 1.0, seed: int = 0
) -> ModernHopfield:
    """Modern continuous Hopfield network (Ramsauer et al. 2021): xi <- X^T softmax(beta X xi), attention.

    Args:
        input_shape: shape of one pattern in [0, 1] (0.5 = unknown), flattened; filled from the data when unset.
        n_memories: P, the training patterns stored as memories X (P, d) (the first P of the train split).
        beta: inverse temperature of the softmax; large beta retrieves single memories, small beta averages.
        seed: seed of the random +-1 memories the network has before anything is stored.
    """
    return ModernHopfield(input_shape=tuple(input_shape), n_memories=n_memories, beta=beta, seed=seed)


# Du & Mordatch (2019), MNIST: images in [0, 1], Langevin step size 10 and noise 0.005, a 95% replay buffer,
# alpha = 1; K = 20 steps (they use 60) and a smaller conv net for a CPU budget of about 10 minutes;
# eval_steps: the fresh chains from noise of the figure
MNIST_LANGEVIN = {
    "steps": 20, "step_size": 10.0, "noise": 0.005, "low": 0.0, "high": 1.0, "buffer_size": 10_000,
    "reinit": 0.05, "alpha": 1.0, "eval_samples": 100, "eval_steps": 60,
}  # fmt: skip
TOY_EBM_TRAIN = {"optimizer": "adam", "lr": 1e-3, "batch_size": 100, "log_every": 20}
# sin/cos features of x at 2^0..2^2: at 8 epochs the grid goes from 19 to 25 modes and from 2.6% to 99.6%
# high-quality samples, the ring from 9% to 60% (one seed each); 4 or more octaves trap the Langevin chains
# in the features' ripples (the ring at 4: no mode; the energy README's Results)
TOY_EBM_FEATURES = {"model": {"x_frequencies": 3}}


@register_model(
    family="energy",
    task="generate",
    paradigm="generative",
    objective=LangevinObjective,
    pipeline=EBMPipeline,
    plots=EBMPlots,
    presets={
        "tiny": {
            "model": {"hidden": [64, 64]},
            "data": {"name": "ring", "n_train": 2000, "n_test": 500},
            "task": {"steps": 20, "eval_samples": 500, "eval_steps": 100},
            "train": {**TOY_EBM_TRAIN, "epochs": 3},
        },
        "default": {
            **TOY_EBM_FEATURES,
            "data": {"name": "ring"},
            "train": {**TOY_EBM_TRAIN, "epochs": 20, "eval_every": 5},
        },
        "ring": {
            **TOY_EBM_FEATURES,
            "data": {"name": "ring"},
            "train": {**TOY_EBM_TRAIN, "epochs": 20, "eval_every": 5},
        },
        "grid": {
            **TOY_EBM_FEATURES,
            "data": {"name": "grid"},
            "train": {**TOY_EBM_TRAIN, "epochs": 20, "eval_every": 5},
        },
        "mnist": {
            "model": {"arch": "conv", "channels": [16, 32, 32], "hidden": [64]},
            "data": {"name": "mnist"},  # one epoch of 938 steps: ~8 CPU-min in bf16-mixed, ~12 in fp32
            "task": MNIST_LANGEVIN,
            "train": {"optimizer": "adam", "lr": 1e-4, "batch_size": 64, "epochs": 1, "log_every": 20},
        },
    },
)
def ebm(
    *,
    input_shape: tuple[int, ...],
    arch: str = "mlp",
    hidden: tuple[int, ...] = (128, 128, 128),
    x_frequencies: int = 0,
    channels: tuple[int, ...] = (32, 64, 64),
) -> EnergyMLP | ConvEnergy:
    """Deep energy-based model E(x) (an MLP), trained by short-run Langevin with a replay buffer (Du & Mordatch 2019).

    Args:
        input_shape: shape of one example, e.g. (2,) for the 2-D toys; filled from the data when unset.
        hidden: widths of the energy network's hidden layers (SiLU), input to the scalar energy.
        arch: "mlp" (``EnergyMLP``, any input) or "conv" (``ConvEnergy``, images (C, H, W), e.g. MNIST).
        hidden: widths of the hidden layers (SiLU) before the scalar energy: of the whole MLP, or of the
            conv net's head after its convolutions.
        x_frequencies: mlp: sin/cos features of x at frequencies 2^0 .. 2^(F-1) beside x itself (0 = raw x).
        channels: conv: widths of its three convolutions (3x3 stride 1, 4x4 stride 2, 4x4 stride 2).
    """
    if x_frequencies < 0:
        raise RegistryError(f"x_frequencies is a count of octaves, >= 0; got {x_frequencies}")
    if arch == "conv":
        if len(input_shape) != 3 or len(channels) != 3:
            raise RegistryError(
                f"model.arch=conv needs images (C, H, W) and three model.channels; got input_shape "
                f"{tuple(input_shape)} and channels {tuple(channels)}"
            )
        return ConvEnergy(input_shape=tuple(input_shape), channels=tuple(channels), hidden=tuple(hidden))
    if arch != "mlp":
        raise RegistryError(f"unknown model.arch {arch!r}; valid: mlp, conv")
    return EnergyMLP(input_shape=tuple(input_shape), hidden=tuple(hidden), x_frequencies=x_frequencies)
