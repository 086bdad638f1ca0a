"""Registered self-supervised entrypoints and their presets (presets are data: partial run configs).

Every image method trains the same ``ConvEncoder`` (``model.py``) with the same augmentations, so the
methods differ only in their objective (``objective.py``). Presets: ``tiny`` (8x8 digits, seconds: the
tests), ``default`` (8x8 digits with a validation split), ``mnist`` (the benchmark configuration,
``benchmarks/ssl_mnist.py``). ``scarf`` (tables) and ``ts_simclr`` (time series) are SimCLR on other
encoders with their modality's augmentations.
"""

from __future__ import annotations

from dlzoo.families.ssl.model import ConvEncoder, MLPEncoder, SeriesEncoder, SSLModel
from dlzoo.families.ssl.objective import BYOL, VICReg, BarlowTwins, SimCLR, SimSiam
from dlzoo.families.ssl.pipeline import SSLPipeline
from dlzoo.families.ssl.plots import SSLPlots
from dlzoo.registry import register_model

DIGITS = {"name": "digits_images"}  # scikit-learn's 8x8 digits in [0, 1]: no download
DIGITS_VAL = {"name": "digits_images", "val_size": 0.2}
MNIST = {"name": "mnist", "val_size": 5000}
# 8x8 digits: crops down to half the area, +-10 degrees; tiny: few evaluation pairs, one k
TINY_TASK = {"augment": {"crop_scale": 0.5, "rotation": 10.0}, "knn_k": [20], "rank_every": 5, "eval_pairs": 200}
DIGITS_TASK = {"augment": {"crop_scale": 0.5, "rotation": 10.0}}
MNIST_TASK = {"augment": {"crop_scale": 0.3, "rotation": 15.0}, "eval_train_examples": None}
TINY_TRAIN = {"epochs": 3, "batch_size": 128, "lr": 3e-3, "log_every": 5}
DIGITS_TRAIN = {"epochs": 50, "batch_size": 256, "lr": 2e-3, "log_every": 5, "scheduler": "cosine"}
MNIST_TRAIN = {"epochs": 5, "batch_size": 256, "lr": 2e-3, "log_every": 50, "scheduler": "cosine", "eval_every": 100}


def _presets(task: dict) -> dict:
    """tiny / default / mnist of an image method; ``task`` adds the method's own fields."""
    return {
        "tiny": {"model": {"channels": [16, 32]}, "data": DIGITS, "task": {**TINY_TASK, **task}, "train": TINY_TRAIN},
        "default": {
            "model": {"channels": [32, 64]},
            "data": DIGITS_VAL,
            "task": {**DIGITS_TASK, **task},
            "train": DIGITS_TRAIN,
        },
        "mnist": {
            "model": {"channels": [16, 32, 64, 128]},
            "data": MNIST,
            "task": {**MNIST_TASK, **task},
            "train": MNIST_TRAIN,
        },
    }


def _image(
    input_shape: tuple[int, ...], channels: tuple[int, ...], proj_hidden: int, proj_dim: int, pred: int
) -> SSLModel:
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W) images, got {shape}")
    if min(shape[1:]) < 2 ** (len(channels) - 1):
        raise ValueError(f"input_shape {shape} is too small for {len(channels) - 1} halvings of channels {channels}")
    encoder = ConvEncoder(in_channels=shape[0], channels=tuple(channels))
    return SSLModel(encoder=encoder, proj_hidden=proj_hidden, proj_dim=proj_dim, pred_hidden=pred)


#: what every model of the family registers with
SSL = {"family": "ssl", "task": "embed", "paradigm": "representation", "pipeline": SSLPipeline, "plots": SSLPlots}


@register_model(
    objective=SimCLR,
    **SSL,
    presets=_presets({"temperature": 0.2}),
)
def simclr(
    *, input_shape: tuple[int, ...], channels: tuple[int, ...] = (32, 64), proj_hidden: int = 256, proj_dim: int = 64
) -> SSLModel:
    """SimCLR (Chen et al. 2020): contrastive, NT-Xent between two views against the batch's other views.
    Args:
        input_shape: image shape (C, H, W); filled from the data when unset.
        channels: output channels of the encoder's conv stages (3x3 conv, BN, ReLU; 2x2 max-pool between
            stages, global average pool after the last): the representation has channels[-1] dimensions.
        proj_hidden: width of the projector's hidden layer.
        proj_dim: dimension of the projection z, where the loss is computed.
    """
    return _image(input_shape, channels, proj_hidden, proj_dim, 0)


@register_model(
    objective=BYOL,
    **SSL,
    presets=_presets({"momentum": 0.99}),
)
def byol(
    *,
    input_shape: tuple[int, ...],
    channels: tuple[int, ...] = (32, 64),
    proj_hidden: int = 256,
    proj_dim: int = 64,
    pred_hidden: int = 256,
) -> SSLModel:
    """BYOL (Grill et al. 2020): an online network with a predictor regresses an EMA target's projection.
    Args:
        input_shape: image shape (C, H, W); filled from the data when unset.
        channels: output channels of the encoder's conv stages (3x3 conv, BN, ReLU; 2x2 max-pool between
            stages, global average pool after the last): the representation has channels[-1] dimensions.
        proj_hidden: width of the projector's hidden layer.
        proj_dim: dimension of the projection z, where the loss is computed.
        pred_hidden: width of the predictor's hidden layer (0: no predictor, the collapse study).
    """
    return _image(input_shape, channels, proj_hidden, proj_dim, pred_hidden)


@register_model(
    objective=SimSiam,
    **SSL,
    presets=_presets({}),
)
def simsiam(
    *,
    input_shape: tuple[int, ...],
    channels: tuple[int, ...] = (32, 64),
    proj_hidden: int = 256,
    proj_dim: int = 64,
    pred_hidden: int = 64,
) -> SSLModel:
    """SimSiam (Chen & He 2021): BYOL without the EMA, a stop-gradient on the twin's projection.
    Args:
        input_shape: image shape (C, H, W); filled from the data when unset.
        channels: output channels of the encoder's conv stages (3x3 conv, BN, ReLU; 2x2 max-pool between
            stages, global average pool after the last): the representation has channels[-1] dimensions.
        proj_hidden: width of the projector's hidden layer.
        proj_dim: dimension of the projection z, where the loss is computed.
        pred_hidden: width of the predictor's hidden layer (0: no predictor, the collapse study).
    """
    return _image(input_shape, channels, proj_hidden, proj_dim, pred_hidden)


@register_model(
    objective=BarlowTwins,
    **SSL,
    presets=_presets({}),
)
def barlow_twins(
    *, input_shape: tuple[int, ...], channels: tuple[int, ...] = (32, 64), proj_hidden: int = 512, proj_dim: int = 512
) -> SSLModel:
    """Barlow Twins (Zbontar et al. 2021): the views' cross-correlation driven to the identity.
    Args:
        input_shape: image shape (C, H, W); filled from the data when unset.
        channels: output channels of the encoder's conv stages (3x3 conv, BN, ReLU; 2x2 max-pool between
            stages, global average pool after the last): the representation has channels[-1] dimensions.
        proj_hidden: width of the projector's hidden layer.
        proj_dim: dimension of the projection z, where the loss is computed.
    """
    return _image(input_shape, channels, proj_hidden, proj_dim, 0)


@register_model(
    objective=VICReg,
    **SSL,
    presets=_presets({}),
)
def vicreg(
    *, input_shape: tuple[int, ...], channels: tuple[int, ...] = (32, 64), proj_hidden: int = 512, proj_dim: int = 512
) -> SSLModel:
    """VICReg (Bardes et al. 2022): invariance, a variance hinge and decorrelated dimensions.
    Args:
        input_shape: image shape (C, H, W); filled from the data when unset.
        channels: output channels of the encoder's conv stages (3x3 conv, BN, ReLU; 2x2 max-pool between
            stages, global average pool after the last): the representation has channels[-1] dimensions.
        proj_hidden: width of the projector's hidden layer.
        proj_dim: dimension of the projection z, where the loss is computed.
    """
    return _image(input_shape, channels, proj_hidden, proj_dim, 0)


# -- other modalities: SimCLR on tables (SCARF) and time series ---------------------------------------

TABLE_TASK = {"temperature": 1.0, "augment": {"kind": "table", "corruption": 0.6}}


@register_model(
    objective=SimCLR,
    **SSL,
    presets={
        "tiny": {
            "data": {"name": "digits"},
            "task": {**TABLE_TASK, "knn_k": [20], "eval_pairs": 200},
            "train": TINY_TRAIN,
        },
        "default": {"data": {"name": "digits", "val_size": 0.2}, "task": TABLE_TASK, "train": DIGITS_TRAIN},
    },
)
def scarf(
    *, in_features: int, hidden: tuple[int, ...] = (256, 256), proj_hidden: int = 256, proj_dim: int = 128
) -> SSLModel:
    """SCARF (Bahri et al. 2022): SimCLR on tables, views by resampling features from their marginals.

    Args:
        in_features: columns of the table; filled from the data when unset.
        hidden: widths of the encoder's Linear-BN-ReLU layers (after per-feature standardization).
        proj_hidden: width of the projector's hidden layer.
        proj_dim: dimension of the projection z.
    """
    encoder = MLPEncoder(in_features=in_features, hidden=tuple(hidden))
    return SSLModel(encoder=encoder, proj_hidden=proj_hidden, proj_dim=proj_dim)


SERIES_TASK = {"temperature": 0.2, "augment": {"kind": "series", "noise": 0.1, "scale": 0.1, "crop_ratio": 0.8}}


@register_model(
    objective=SimCLR,
    **SSL,
    presets={
        "tiny": {
            "model": {"filters": [16, 16], "kernel_sizes": [5, 3]},
            "data": {"name": "cbf", "n_train": 60, "n_test": 120},
            "task": {**SERIES_TASK, "knn_k": [20], "eval_pairs": 100},
            "train": {**TINY_TRAIN, "batch_size": 32},
        },
        "default": {
            "data": {"name": "cbf", "n_train": 300},
            "task": SERIES_TASK,
            "train": {**DIGITS_TRAIN, "batch_size": 64},
        },
    },
)
def ts_simclr(
    *,
    in_channels: int,
    filters: tuple[int, ...] = (64, 128, 64),
    kernel_sizes: tuple[int, ...] = (8, 5, 3),
    proj_hidden: int = 128,
    proj_dim: int = 64,
) -> SSLModel:
    """Contrastive time series (TS-TCC / TS2Vec-style views): SimCLR on an FCN encoder.

    Args:
        in_channels: variables of the series; filled from the data when unset.
        filters: output channels of the FCN's conv-BN-ReLU blocks (Wang et al. 2017: 128, 256, 128).
        kernel_sizes: kernel length of each block.
        proj_hidden: width of the projector's hidden layer.
        proj_dim: dimension of the projection z.
    """
    encoder = SeriesEncoder(in_channels=in_channels, filters=tuple(filters), kernel_sizes=tuple(kernel_sizes))
    return SSLModel(encoder=encoder, proj_hidden=proj_hidden, proj_dim=proj_dim)
