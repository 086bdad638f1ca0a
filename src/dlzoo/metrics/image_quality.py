"""Image-generation quality: FID and KID through torchmetrics, with a feature network we train ourselves.

No Inception-v3 weights can be downloaded here, so the embedding is the penultimate layer of a
classifier the project trains on the same domain (``lenet --preset mnist`` for MNIST). The numbers
are therefore *not* comparable with published Inception FIDs; compare a generator with the **real
floor** (two disjoint sets of real images through the same network, at the same sample size) and
with other generators measured with the same feature network.

FID (Heusel et al. 2017, "GANs trained by a two time-scale update rule converge to a local Nash
equilibrium", NeurIPS, Eq. 6), with (mu_r, S_r), (mu_g, S_g) the mean and covariance of the embeddings::

    FID = ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))

KID (Binkowski et al. 2018, "Demystifying MMD GANs", ICLR, Section 2.2 / Appendix C): the unbiased
squared MMD with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over ``kid_subsets``
random subsets of ``kid_subset_size`` images; ``kid_std`` is its sd over the subsets. KID is
unbiased, so it can be slightly negative for two samples of one distribution, and it is far less
sample-size dependent than FID. Both scale with the embedding: with LeNet's 256 ReLU units on MNIST
(N = 10000) the real floor is FID 0.29 / KID 0.0002 and independent per-pixel Gaussians reach FID 222
/ KID 2.5 (benchmarks/gan_mnist.py), so compare numbers only within one feature network.

Both are computed by torchmetrics (``FrechetInceptionDistance`` / ``KernelInceptionDistance`` with
``feature=<nn.Module>``; torchmetrics passes custom-module inputs through unchanged, so float images
in [0, 1] go straight in); :class:`ClassifierEmbedding` is the thin adapter: it carries
``num_features`` (so torchmetrics runs no dummy forward), stays in eval mode and returns float64.

    features = feature_extractor("runs/lenet/mnist-features")       # a trained classifier run
    generation_metrics(fake, real, features=features)               # {"fid", "kid", "kid_std"}
    real_floor(real_train, real_test, features=features)            # what a perfect generator reaches

Shapes: images (N, C, H, W) float in [0, 1], (C, H, W) the classifier's input shape; embeddings (N, D).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

RANGE_TOLERANCE = 1e-4  # float round-off allowed outside [0, 1] (e.g. a sigmoid output of exactly 1 + eps)


class ClassifierEmbedding(nn.Module):
    """The penultimate-layer embedding of a trained classifier, frozen and always in eval mode.

    The classifier must have ``features`` (conv trunk) and ``classifier`` (an ``nn.Sequential`` whose
    last module is the ``nn.Linear`` producing logits), like ``dlzoo.families.cnn.model.LeNet``; the
    embedding is ``classifier[:-1](features(x).flatten(1))``: for LeNet the ReLU'd hidden layer
    (dropout is the identity in eval mode).

    Shapes: x (N, *input_shape) in [0, 1] -> (N, num_features) float64
    """

    def __init__(self, classifier: nn.Module, *, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        head = getattr(classifier, "classifier", None)
        if (
            not isinstance(getattr(classifier, "features", None), nn.Module)
            or not isinstance(head, nn.Sequential)
            or not isinstance(head[-1], nn.Linear)
        ):
            raise TypeError(
                f"feature network: expected a classifier with .features (nn.Module) and .classifier "
                f"(nn.Sequential ending in the logits nn.Linear), like cnn.LeNet; got "
                f"{type(classifier).__name__}"
            )
        self.trunk = classifier.features
        self.head = head[:-1]  # every layer of the classifier but the logits
        self.num_features = int(head[-1].in_features)  # read by torchmetrics instead of a dummy forward
        self.input_shape = tuple(int(s) for s in input_shape)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> ClassifierEmbedding:
        """Stays in eval mode (BatchNorm running statistics, no dropout), whatever a caller asks."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.trunk(x.float())  # (N, C', H', W')
        return self.head(h.flatten(1)).double()  # (N, D)


def feature_extractor(run_dir: Path | str) -> ClassifierEmbedding:
    """The FID/KID feature network of a trained classifier run (``dlzoo train lenet --preset mnist``).

    Rebuilds the classifier with :func:`dlzoo.runs.load_run` (config.yaml + model.safetensors) and
    returns its penultimate-layer embedding, frozen, in eval mode; its expected input shape is the
    run's recorded ``info.input_shape`` (e.g. (1, 28, 28)).
    """
    from dlzoo.runs import load_run

    loaded = load_run(run_dir)
    shape = loaded.config.info.get("input_shape") or loaded.config.model.get("input_shape")
    if shape is None or len(shape) != 3:
        raise ValueError(
            f"{run_dir}: feature network needs an image classifier with input_shape (C, H, W); "
            f"the run records {shape!r}"
        )
    return ClassifierEmbedding(loaded.model, input_shape=tuple(shape))


def check_images(images: torch.Tensor, *, name: str, shape: tuple[int, ...] | None) -> torch.Tensor:
    """Refuse anything but a float batch (N >= 2, *shape) with finite values in [0, 1]."""
    want = f"(N, {', '.join(map(str, shape))})" if shape else "(N, C, H, W)"
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or (shape and tuple(images.shape[1:]) != shape):
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"{name}: expected images of shape {want} in [0, 1], got {got}")
    if len(images) < 2:
        raise ValueError(f"{name}: need at least 2 images for a covariance, got {len(images)}")
    if not images.is_floating_point():
        raise ValueError(f"{name}: expected float images in [0, 1], got dtype {images.dtype} (divide uint8 by 255)")
    if not torch.isfinite(images).all():
        raise ValueError(f"{name}: images contain NaN or inf")
    lo, hi = float(images.min()), float(images.max())
    if lo < -RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        raise ValueError(f"{name}: expected values in [0, 1], got [{lo:.4g}, {hi:.4g}]")
    return images.clamp(0.0, 1.0)


@torch.no_grad()
def generation_metrics(
    fake: torch.Tensor,
    real: torch.Tensor,
    *,
    features: nn.Module,
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    batch_size: int = 500,
    seed: int = 0,
) -> dict[str, float]:
    """FID and KID of ``fake`` against ``real`` images in the embedding of ``features``.

    Args:
        fake: generated images (N_g, C, H, W) in [0, 1].
        real: reference images (N_r, C, H, W) in [0, 1] (e.g. the 10000 MNIST test images).
        features: the embedding (:func:`feature_extractor`); any module mapping (N, C, H, W) -> (N, D).
        kid_subset_size: images per KID subset (Binkowski et al. use 1000); at most min(N_g, N_r).
        kid_subsets: number of random subsets KID is averaged over.
        batch_size: images per forward pass of the feature network.
        seed: seed of KID's subset draws (the global RNG is left untouched).

    Returns:
        {"fid", "kid", "kid_std"}; ``fid`` >= 0 up to round-off, lower is better for all three.

    Raises:
        ValueError: images of the wrong shape (names the expected one), dtype or range; too few images.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    shape = getattr(features, "input_shape", None)
    fake = check_images(fake, name="fake", shape=shape)
    real = check_images(real, name="real", shape=shape or tuple(fake.shape[1:]))
    if not 2 <= kid_subset_size <= min(len(fake), len(real)):
        raise ValueError(
            f"kid_subset_size must be in [2, {min(len(fake), len(real))}] (the smaller set), got {kid_subset_size}"
        )
    if kid_subsets < 1:
        raise ValueError(f"kid_subsets must be >= 1, got {kid_subsets}")
    with warnings.catch_warnings():  # KID's "will save all extracted features in buffer": that is the point
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        fid = FrechetInceptionDistance(feature=features)
        kid = KernelInceptionDistance(feature=features, subsets=kid_subsets, subset_size=kid_subset_size)
    for images, is_real in ((real, True), (fake, False)):
        for batch in images.split(batch_size):  # (b, C, H, W)
            fid.update(batch, real=is_real)
            kid.update(batch, real=is_real)
    with torch.random.fork_rng(devices=[]):  # KID draws its subsets with torch.randperm
        torch.manual_seed(seed)
        kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}


def real_floor(
    real_a: torch.Tensor,
    real_b: torch.Tensor,
    *,
    features: nn.Module,
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    seed: int = 0,
) -> dict[str, float]:
    """FID/KID between two *disjoint* sets of real images (e.g. 10000 train vs the 10000 test images).

    A perfect generator's samples are just another real sample, so this is the score it would reach
    at this sample size: FID is biased upward at finite N (Chong & Forsyth 2020), and the floor
    makes that bias visible. Compare generators with ``fake`` as large as ``real_a`` here.
    """
    if real_a is real_b or (real_a.shape == real_b.shape and torch.equal(real_a, real_b)):
        raise ValueError("real_floor: real_a and real_b must be two disjoint sets of real images, got the same set")
    return generation_metrics(
        real_a, real_b, features=features, kid_subset_size=kid_subset_size, kid_subsets=kid_subsets, seed=seed
    )
