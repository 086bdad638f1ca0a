"""Meta-learning family, part 2: Chen et al.'s Baseline (linear head), TSA / FiLM adapters fitted per
task (the support loss falls, the model is untouched, /adapt leaves the served weights unchanged) and
within-alphabet episodes (Lake et al.'s runs)."""

from __future__ import annotations

import pytest
import torch

from dlzoo.data.fewshot import ClassPool, EpisodeSampler, FewShotData
from dlzoo.families.meta.adapters import embed, init_adapters
from dlzoo.families.meta.baseline import BaselinePPObjective
from dlzoo.families.meta.objective import task_loss
from dlzoo.families.meta.presets import baseline, baseline_pp


@pytest.mark.parametrize("build", [baseline, baseline_pp])
@pytest.mark.parametrize("adapter", ["film", "residual"])
def test_adapters_start_as_the_backbone_lower_the_support_loss_and_leave_the_model(build, adapter: str) -> None:
    torch.manual_seed(0)
    model = build(input_shape=(1, 28, 28), num_train_classes=7, hidden=8).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 0, 1, 2])
    with torch.no_grad():  # identity adapters: the pre-trained features exactly
        torch.testing.assert_close(embed(model.body, x, init_adapters(model.body, adapter)), model.embed(x))
    objective = BaselinePPObjective(BaselinePPObjective.Config(finetune_steps=50, finetune_lr=0.1, adapter=adapter))
    fitted, init = objective.adapt(model, x, y), objective.adapt(model, x, y, steps=0)
    assert fitted.steps == 50 and init.steps == 0
    assert fitted.adapters is not None and set(fitted.adapters) == set(init_adapters(model.body, adapter))
    moved = [k for k, v in fitted.adapters.items() if not torch.equal(v, init.adapters[k])]
    assert moved, "the adapters were not trained"
    with torch.no_grad():
        fitted_loss = task_loss(objective.predict(model, fitted, x), y)
        start_loss = task_loss(objective.predict(model, init, x), y)
    assert fitted_loss < 0.8 * start_loss  # the support loss falls
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())  # no gradient reached the model


def test_baseline_linear_head_starts_at_chance_and_fits_the_support() -> None:
    torch.manual_seed(0)
    model = baseline(input_shape=(1, 28, 28), num_train_classes=7, hidden=8).eval()
    # untrained features are small (norm ~0.2 for inputs in [0, 1]); scaled inputs give features to fit
    x, y = 30 * torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 0, 1, 2])
    objective = BaselinePPObjective(BaselinePPObjective.Config(finetune_steps=100, finetune_lr=0.1))
    init = objective.adapt(model, x, y, steps=0)
    assert init.bias is not None and init.adapters is None  # linear head, no adapters
    with torch.no_grad():
        torch.testing.assert_close(objective.predict(model, init, x), torch.zeros(6, 3))  # W = 0, b = 0
        assert task_loss(objective.predict(model, objective.adapt(model, x, y), x), y) < 0.5 * torch.log(
            torch.tensor(3.0)
        )


def test_adapters_need_a_conv_backbone() -> None:
    from dlzoo.families.meta.model import SineMLP

    with pytest.raises(ValueError, match="Conv-4"):
        init_adapters(SineMLP(in_features=1), "film")


def test_within_alphabet_episodes_draw_one_alphabet_and_rotation() -> None:
    x = torch.rand(12 * 4, 1, 8, 8)
    y = torch.arange(12).repeat_interleave(4)
    groups = torch.tensor([0] * 5 + [1] * 7)  # alphabet of each of the 12 characters
    pool = ClassPool(x, y, rotations=4, groups=groups)
    assert sorted(len(g) for g in pool.group_classes) == [5] * 4 + [7] * 4
    data = FewShotData(None, None, None, None, {"train": pool})
    sampler = EpisodeSampler(data, n_way=6, k_shot=1, n_query=2, seed=3, within_group=True)
    seen = set()
    for i in range(40):
        ep = sampler.draw("train", torch.Generator().manual_seed(i))
        base, rot = ep.classes // 4, ep.classes % 4
        assert len(set(groups[base].tolist())) == 1 and len(set(rot.tolist())) == 1  # one alphabet, one angle
        assert len(ep.classes) == min(6, 5 if groups[base[0]] == 0 else 7)  # capped at the group's size
        assert ep.support_y.max() + 1 == len(ep.classes) and len(ep.query_y) == 2 * len(ep.classes)
        seen.add((int(groups[base[0]]), int(rot[0])))
    assert len(seen) == 8  # every (alphabet, rotation) is drawn
    again = sampler.draw("train", torch.Generator().manual_seed(0))
    first = sampler.draw("train", torch.Generator().manual_seed(0))
    assert torch.equal(again.classes, first.classes)  # seeded


def test_within_alphabet_needs_alphabets() -> None:
    from dlzoo.data import DataError

    pool = ClassPool(torch.rand(8, 1, 8, 8), torch.arange(4).repeat_interleave(2))
    with pytest.raises(DataError, match="alphabet"):
        pool.episode(torch.Generator(), n_way=2, k_shot=1, n_query=1, within_group=True)


def test_adapt_with_residual_adapters_leaves_the_served_weights_unchanged(tmp_path) -> None:
    from fastapi.testclient import TestClient

    from dlzoo.config import resolve_config
    from dlzoo.runs import RunDir
    from dlzoo.serve import create_app
    from dlzoo.training import train_run

    cfg = resolve_config("baseline", preset="tiny", overrides=["train.progress=false", "task.adapter=residual"])
    train_run(cfg, RunDir.create(tmp_path, "baseline", "r"))
    with TestClient(create_app(tmp_path)) as client:
        served = next(iter(client.app.state.models.runs.values())).loaded.model
        before = {k: v.clone() for k, v in served.state_dict().items()}
        gen = torch.Generator().manual_seed(0)
        body = {
            "support_inputs": torch.rand(6, 1, 28, 28, generator=gen).tolist(),
            "support_labels": [0, 1, 2, 0, 1, 2],
            "queries": torch.rand(4, 1, 28, 28, generator=gen).tolist(),
            "inner_steps": 7,
        }
        r = client.post("/v1/models/baseline/adapt", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["ways"] == 3 and r.json()["inner_steps"] == 7
        assert all(torch.equal(before[k], v) for k, v in served.state_dict().items())
        assert all(p.grad is None for p in served.parameters())
