"""FID / KID with our own feature network (dlzoo.metrics.image_quality), on scikit-learn's 8x8 digits.

The feature network is ``lenet --preset tiny`` trained for a few seconds through the dlzoo loop into
a temporary run directory, then loaded back with ``feature_extractor(run_dir)``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from dlzoo.config import resolve_config
from dlzoo.data import load_dataset
from dlzoo.metrics.image_quality import ClassifierEmbedding, feature_extractor, generation_metrics, real_floor
from dlzoo.runs import RunDir
from dlzoo.training.loop import train_run


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    cfg = resolve_config("lenet", preset="tiny", overrides=["train.progress=false", "train.epochs=4"])
    run = RunDir.create(tmp_path_factory.mktemp("runs"), "lenet", "features")
    result = train_run(cfg, run)
    assert result["test/accuracy"] > 0.85  # a feature net that learned the digits
    return run


@pytest.fixture(scope="module")
def features(trained_run: RunDir) -> ClassifierEmbedding:
    return feature_extractor(trained_run.path)


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    data = load_dataset("digits_images")
    return data.train.x, data.train.y, data.test.x, data.test.y  # (1437 | 360, 1, 8, 8) in [0, 1]


def small_kid(**kw: int) -> dict[str, int]:
    return {"kid_subset_size": 100, "kid_subsets": 20, **kw}


def test_feature_extractor_is_frozen_penultimate_layer(
    features: ClassifierEmbedding, trained_run: RunDir, digits: tuple
) -> None:
    x = digits[2][:16]
    assert features.input_shape == (1, 8, 8) and features.num_features == 32  # tiny preset: hidden 32
    features.train()  # a caller (or torchmetrics) asking for train mode must not enable dropout / batch stats
    assert not features.training and not any(m.training for m in features.modules())
    assert all(not p.requires_grad for p in features.parameters())
    emb = features(x)
    assert emb.shape == (16, 32) and emb.dtype == torch.float64 and (emb >= 0).all()  # after the hidden ReLU
    torch.testing.assert_close(features(x), emb)
    # the logits layer applied to the embedding gives the classifier's own logits
    from dlzoo.runs import load_run

    model = load_run(trained_run.path).model
    logits = model.classifier[-1](emb.float())
    torch.testing.assert_close(logits, model(x), rtol=1e-5, atol=1e-5)


# dead ReLU units make the covariances singular; sqrtm still returns the right square root (parity below)
@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_fid_of_identical_sets_is_zero_and_matches_scipy(features: ClassifierEmbedding, digits: tuple) -> None:
    x_tr, _, x_te, _ = digits
    same = generation_metrics(x_te, x_te.clone(), features=features, **small_kid())
    other = generation_metrics(x_tr[:360], x_te, features=features, **small_kid())
    assert abs(same["fid"]) < 1e-6
    # KID's random subsets of one set overlap (the cross term then holds k(x, x)), so it is ~0 only
    # within its subset noise, and never looks worse than zero
    assert abs(same["kid"]) < 3 * same["kid_std"] and same["kid"] < other["kid"] + 3 * other["kid_std"]

    # FID = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) (Heusel et al. 2017), computed directly
    f1, f2 = features(x_tr).numpy(), features(x_te).numpy()  # (N1, D), (N2, D)
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))
    got = generation_metrics(x_tr, x_te, features=features, **small_kid())["fid"]
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
    assert got > 1e-3  # two different samples are not at distance zero


def test_kid_matches_unbiased_polynomial_mmd(features: ClassifierEmbedding, digits: tuple) -> None:
    """With subset_size = N the subset is the whole set and KID is the full unbiased MMD^2 (Binkowski et al.)."""
    x_tr, _, x_te, _ = digits
    a, b = x_tr[:300], x_te[:300]
    fa, fb = features(a).numpy(), features(b).numpy()
    d, m = fa.shape[1], len(fa)

    def k(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return (u @ v.T / d + 1.0) ** 3  # cubic polynomial kernel

    kaa, kbb, kab = k(fa, fa), k(fb, fb), k(fa, fb)
    expected = ((kaa.sum() - np.trace(kaa)) + (kbb.sum() - np.trace(kbb))) / (m * (m - 1)) - 2 * kab.mean()
    got = generation_metrics(b, a, features=features, kid_subset_size=300, kid_subsets=3)
    torch.testing.assert_close(got["kid"], float(expected), rtol=1e-6, atol=1e-9)
    assert got["kid_std"] < 1e-9  # every "subset" is the whole set


def test_fid_and_kid_grow_with_noise(features: ClassifierEmbedding, digits: tuple) -> None:
    x_tr, _, x_te, _ = digits
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(x_tr.shape, generator=gen)
    scores = [
        generation_metrics((x_tr + s * noise).clamp(0, 1), x_te, features=features, **small_kid(kid_subsets=50))
        for s in (0.0, 0.15, 0.3, 0.5)
    ]
    fids, kids = [r["fid"] for r in scores], [r["kid"] for r in scores]
    assert all(a < b for a, b in itertools.pairwise(fids)), fids
    assert all(a < b for a, b in itertools.pairwise(kids)), kids
    assert fids[-1] > 5 * fids[0]


def test_missing_modes_raise_fid_above_the_real_floor(features: ClassifierEmbedding, digits: tuple) -> None:
    """A 'generator' that covers fewer digit classes (mode collapse) scores worse than held-out real data."""
    x_tr, y_tr, x_te, _ = digits
    floor = real_floor(x_tr, x_te, features=features, **small_kid())
    five = generation_metrics(x_tr[y_tr < 5], x_te, features=features, **small_kid())
    one = generation_metrics(x_tr[y_tr == 0], x_te, features=features, **small_kid())
    assert floor["fid"] < five["fid"] < one["fid"]
    assert floor["kid"] < five["kid"] < one["kid"]
    assert abs(floor["kid"]) < 3 * floor["kid_std"] + 1e-3  # two real samples: KID is ~0 within its noise
    assert five["fid"] > 3 * floor["fid"]


def test_kid_is_seeded_and_leaves_the_global_rng_alone(features: ClassifierEmbedding, digits: tuple) -> None:
    x_tr, _, x_te, _ = digits
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    r1 = generation_metrics(x_tr, x_te, features=features, **small_kid())
    after = torch.rand(1)
    r2 = generation_metrics(x_tr, x_te, features=features, **small_kid())
    assert r1 == r2
    torch.testing.assert_close(before, after)


@pytest.mark.parametrize(
    ("fake", "match"),
    [
        (torch.rand(10, 1, 28, 28), r"expected images of shape \(N, 1, 8, 8\)"),
        (torch.rand(10, 3, 8, 8), r"expected images of shape \(N, 1, 8, 8\)"),
        (torch.rand(10, 8, 8), r"expected images of shape \(N, 1, 8, 8\)"),
        (torch.rand(10, 1, 8, 8) * 255, r"expected values in \[0, 1\]"),
        (torch.randint(0, 255, (10, 1, 8, 8), dtype=torch.uint8), "expected float images"),
        (torch.full((10, 1, 8, 8), float("nan")), "NaN"),
        (torch.rand(1, 1, 8, 8), "at least 2 images"),
    ],
)
def test_bad_images_are_refused(features: ClassifierEmbedding, fake: torch.Tensor, match: str) -> None:
    real = torch.rand(20, 1, 8, 8)
    with pytest.raises(ValueError, match=match):
        generation_metrics(fake, real, features=features, kid_subset_size=5, kid_subsets=2)


def test_bad_arguments_are_refused(features: ClassifierEmbedding) -> None:
    x = torch.rand(20, 1, 8, 8)
    with pytest.raises(ValueError, match=r"kid_subset_size must be in \[2, 20\]"):
        generation_metrics(x, torch.rand(30, 1, 8, 8), features=features)
    with pytest.raises(ValueError, match="disjoint"):
        real_floor(x, x, features=features, kid_subset_size=5)
    with pytest.raises(TypeError, match="expected a classifier with .features"):
        ClassifierEmbedding(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), input_shape=(1, 8, 8))


def test_adversarial_run_reports_fid_with_the_feature_run(
    trained_run: RunDir, features: ClassifierEmbedding, digits: tuple, tmp_path: Path
) -> None:
    """task.fid_features wires a classifier run into a GAN's final evaluation (test/fid, test/kid in eval.json)."""
    cfg = resolve_config(
        "dcgan",
        preset="tiny",
        overrides=[
            "train.progress=false",
            "train.epochs=1",
            f"task.fid_features={trained_run.path}",
            "task.fid_samples=200",
        ],
    )
    result = train_run(cfg, RunDir.create(tmp_path, "dcgan", "fid"))
    assert {"test/fid", "test/kid", "test/kid_std"} <= set(result)
    # one epoch of a tiny GAN (FID ~80) is far from the real floor on these digits (~0.4)
    floor = real_floor(digits[0], digits[2], features=features, kid_subset_size=200, kid_subsets=10)
    assert result["test/fid"] > 10 * floor["fid"]
