"""Meta-learning: affine distortions of training episodes (``task.augment=affine``) and distorted support
copies of ProtoNet prototypes (``task.support_copies``): reproducible from the seed, the episode's
split and labels untouched, nothing written back to the model, a resumed run replays them exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from dlzoo.data import load_dataset
from dlzoo.data.affine import AffineJitter
from dlzoo.data.fewshot import AUGMENT_SEED, EpisodeSampler
from dlzoo.families.meta.metric import ProtoNetObjective
from dlzoo.families.meta.presets import protonet as build_protonet
from dlzoo.paradigms import EpisodicConfig


@pytest.fixture(scope="module")
def strokes():
    return load_dataset("omniglot_synthetic", num_classes=40, per_class=12)


def test_the_identity_jitter_changes_nothing_and_the_default_one_moves_strokes() -> None:
    x = torch.rand(6, 1, 28, 28)
    gen = torch.Generator().manual_seed(0)
    still = AffineJitter(degrees=0, shear=0, scale=(1, 1), translate=0)
    torch.testing.assert_close(still(x, gen), x)
    moved = AffineJitter(p=1.0)(x, gen)
    assert moved.shape == x.shape and (moved - x).abs().mean() > 0.05
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        AffineJitter()(torch.rand(6, 28), gen)


def test_distorted_episodes_keep_the_split_and_labels_and_are_reproducible(strokes) -> None:
    kw = {"n_way": 5, "k_shot": 2, "n_query": 3, "seed": 3}
    plain = EpisodeSampler(strokes, **kw)
    jitter = AffineJitter()
    aug, again = EpisodeSampler(strokes, augment=jitter, **kw), EpisodeSampler(strokes, augment=jitter, **kw)
    for r in (0, 4):
        gen = torch.Generator().manual_seed(AUGMENT_SEED + 3 * 1_000_003 + r)  # the round's distortion generator
        for batch_p, batch_a, batch_b in zip(
            plain.round(r, count=2, meta_batch_size=2),
            aug.round(r, count=2, meta_batch_size=2),
            again.round(r, count=2, meta_batch_size=2),
            strict=True,
        ):
            for p, a, b in zip(batch_p, batch_a, batch_b, strict=True):
                # the same episode (classes, labels); support images distorted from support images only
                assert torch.equal(a.classes, p.classes) and torch.equal(a.support_y, p.support_y)
                assert torch.equal(a.query_y, p.query_y)
                torch.testing.assert_close(a.support_x, jitter(p.support_x, gen))
                torch.testing.assert_close(a.query_x, jitter(p.query_x, gen))
                assert not torch.equal(a.support_x, p.support_x)
                assert torch.equal(a.support_x, b.support_x) and torch.equal(a.query_x, b.query_x)
    fixed = next(aug.fixed("test", 1))  # evaluation episodes are never distorted
    assert torch.equal(fixed.query_x, next(plain.fixed("test", 1)).query_x)


def test_support_copies_average_distorted_embeddings_and_leave_the_model_unchanged(strokes) -> None:
    torch.manual_seed(0)
    model = build_protonet(input_shape=(1, 28, 28), hidden=8).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ep = next(EpisodeSampler(strokes, n_way=4, k_shot=1, n_query=2, seed=0).fixed("test", 1))
    plain = ProtoNetObjective(ProtoNetObjective.Config(n_way=4))
    copies = ProtoNetObjective(ProtoNetObjective.Config(n_way=4, support_copies=3))
    zs, ys = copies.adapt(model, ep.support_x, ep.support_y)
    assert zs.shape == (16, model.body.out_dim) and torch.equal(ys, ep.support_y.repeat(4))
    torch.testing.assert_close(zs[:4], plain.adapt(model, ep.support_x, ep.support_y)[0])
    torch.testing.assert_close(copies.adapt(model, ep.support_x, ep.support_y)[0], zs)  # the same copies each call
    assert copies.predict(model, (zs, ys), ep.query_x).shape == (8, 4)
    assert all(torch.equal(before[n], t) for n, t in model.state_dict().items())
    with pytest.raises(ValidationError):
        ProtoNetObjective.Config(support_copies=-1)


def test_augment_setting_is_checked_and_a_distorted_run_resumes_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dlzoo.config import ConfigError, resolve_config
    from dlzoo.runs import RunDir
    from dlzoo.tasks.episodic import EpisodicTask
    from dlzoo.training import train_run

    with pytest.raises(ValidationError):
        EpisodicConfig(augment="elastic")
    with pytest.raises(ConfigError, match="distorts images"):
        over = ["train.progress=false", "task.augment=affine"]
        train_run(resolve_config("maml", preset="tiny", overrides=over), RunDir.create(tmp_path, "maml", "sine"))

    over = ["train.progress=false", "train.epochs=3", "task.augment=affine", "task.support_copies=2"]
    ref = RunDir.create(tmp_path, "protonet", "ref")
    train_run(resolve_config("protonet", preset="tiny", overrides=over), ref)
    original = EpisodicTask.train_round

    def crash_in_round_2(self, round_idx):
        if round_idx == 2:
            raise KeyboardInterrupt
        yield from original(self, round_idx)

    cut = RunDir.create(tmp_path, "protonet", "cut")
    monkeypatch.setattr(EpisodicTask, "train_round", crash_in_round_2)
    with pytest.raises(KeyboardInterrupt):
        train_run(resolve_config("protonet", preset="tiny", overrides=over), cut)
    monkeypatch.setattr(EpisodicTask, "train_round", original)
    train_run(resolve_config("protonet", preset="tiny", overrides=over), cut, resume=True)

    def rows(run):
        return [
            {k: v for k, v in json.loads(x).items() if k != "time"} for x in run.metrics_path.read_text().splitlines()
        ]

    assert rows(cut) == rows(ref)
    assert (
        json.loads(cut.eval_path.read_text())["test/accuracy"] == json.loads(ref.eval_path.read_text())["test/accuracy"]
    )
