"""The ssl family and the representation paradigm: losses against direct formulas and numpy (and lightly's
where it imports), BYOL's target, seeded augmentations, the collapse alarm, learning, serving."""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fastapi.testclient import TestClient

from dlzoo.config import resolve_config
from dlzoo.families.ssl.augment import Augment, AugmentConfig
from dlzoo.families.ssl.objective import BYOL, SimCLR, barlow_twins, cross_correlation, nt_xent, vicreg
from dlzoo.metrics.representation import alignment, effective_rank, knn_accuracy, uniformity
from dlzoo.registry import create_model
from dlzoo.runs import RunDir
from dlzoo.training import train_run


def tiny_task(name: str, *overrides: str):
    from lightning_fabric import Fabric

    from dlzoo.registry import get_spec
    from dlzoo.tasks import make_task
    from dlzoo.tasks.base import Context

    cfg = resolve_config(name, preset="tiny", overrides=["train.progress=false", *overrides])
    fabric = Fabric(accelerator="cpu", devices=1)
    fabric.seed_everything(0, verbose=False)
    task = make_task(Context(get_spec(name), cfg, fabric))
    task.setup()
    return task


# -- losses -------------------------------------------------------------------------------------------


def test_nt_xent_matches_the_direct_formula():
    g = torch.Generator().manual_seed(0)
    z_a, z_b, tau = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g), 0.5
    z = torch.cat([z_a, z_b])
    n = len(z)
    total = 0.0
    for i in range(n):  # l(i, j) = -log exp(s_ij / tau) / sum_{k != i} exp(s_ik / tau)
        j = (i + 3) % n
        s = [float(F.cosine_similarity(z[i], z[k], dim=0)) / tau for k in range(n)]
        total += -s[j] + math.log(sum(math.exp(s[k]) for k in range(n) if k != i))
    assert float(nt_xent(z_a, z_b, temperature=tau)) == pytest.approx(total / n, rel=1e-5)
    # identical views far from the others give a loss near its floor, random pairs a larger one
    e = torch.eye(4)[:3] * 10
    assert float(nt_xent(e, e, temperature=0.1)) < 0.01 < float(nt_xent(z_a, z_b, temperature=0.1))


def test_barlow_twins_cross_correlation_against_numpy():
    g = torch.Generator().manual_seed(1)
    z_a, z_b = (
        torch.randn(16, 5, generator=g, dtype=torch.float64),
        torch.randn(16, 5, generator=g, dtype=torch.float64),
    )
    a, b = z_a.numpy(), z_b.numpy()
    an = (a - a.mean(0)) / np.sqrt(a.var(0) + 1e-5)
    bn = (b - b.mean(0)) / np.sqrt(b.var(0) + 1e-5)
    c = an.T @ bn / len(a)
    np.testing.assert_allclose(cross_correlation(z_a, z_b).numpy(), c, rtol=1e-10)
    lam = 5e-3
    expected = ((np.diag(c) - 1) ** 2).sum() + lam * (c**2 - np.diag(np.diag(c) ** 2)).sum()
    assert float(barlow_twins(z_a, z_b, lambd=lam)[0]) == pytest.approx(expected, rel=1e-10)
    assert float(barlow_twins(z_a, z_a, lambd=lam)[1]["on_diagonal"]) == pytest.approx(0, abs=1e-6)


def test_vicreg_terms_against_numpy():
    g = torch.Generator().manual_seed(2)
    z_a, z_b = (
        torch.randn(8, 3, generator=g, dtype=torch.float64),
        0.1 * torch.randn(8, 3, generator=g, dtype=torch.float64),
    )
    loss, parts = vicreg(z_a, z_b, sim=25.0, var=25.0, cov=1.0)
    a, b = z_a.numpy(), z_b.numpy()
    inv = ((a - b) ** 2).mean()
    var = sum(np.maximum(0, 1 - np.sqrt(z.var(0, ddof=1) + 1e-4)).mean() for z in (a, b)) / 2
    cov = sum(((c := np.cov(z.T)) ** 2).sum() - (np.diag(c) ** 2).sum() for z in (a, b)) / 3
    assert float(parts["invariance"]) == pytest.approx(inv)
    assert float(parts["variance"]) == pytest.approx(var) and var > 0.5  # the small branch is penalized
    assert float(parts["covariance"]) == pytest.approx(cov)
    assert float(loss) == pytest.approx(25 * inv + 25 * var + cov)


def _lightly(module: str):
    """A lightly.loss submodule without lightly/loss/__init__.py, which imports torchvision (broken here)."""
    spec = importlib.util.find_spec("lightly")
    if spec is None:
        pytest.skip("lightly is not installed (benchmark/test-only: pip install --no-deps lightly)")
    if "lightly.loss" not in sys.modules or not hasattr(sys.modules["lightly.loss"], "__file__"):
        pkg = types.ModuleType("lightly.loss")
        pkg.__path__ = [os.path.join(os.path.dirname(spec.origin), "loss")]
        sys.modules.setdefault("lightly.loss", pkg)
    try:
        return importlib.import_module(f"lightly.loss.{module}")
    except ImportError as e:  # its NT-Xent imports lightly.models, which needs torchvision
        pytest.skip(f"lightly.loss.{module} does not import without torchvision: {e}")


def test_barlow_twins_and_vicreg_match_lightly():
    g = torch.Generator().manual_seed(3)
    z_a, z_b = torch.randn(32, 8, generator=g), torch.randn(32, 8, generator=g)
    bt = _lightly("barlow_twins_loss").BarlowTwinsLoss(lambda_param=5e-3, gather_distributed=False)
    torch.testing.assert_close(barlow_twins(z_a, z_b, lambd=5e-3)[0], bt(z_a, z_b), rtol=1e-4, atol=1e-4)
    vl = _lightly("vicreg_loss").VICRegLoss()
    torch.testing.assert_close(vicreg(z_a, z_b, sim=25.0, var=25.0, cov=1.0)[0], vl(z_a, z_b), rtol=1e-4, atol=1e-4)


def test_nt_xent_matches_lightly():
    loss = _lightly("ntx_ent_loss").NTXentLoss(temperature=0.5)
    g = torch.Generator().manual_seed(4)
    z_a, z_b = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    torch.testing.assert_close(nt_xent(z_a, z_b, temperature=0.5), loss(z_a, z_b), rtol=1e-5, atol=1e-5)


# -- BYOL's target ----------------------------------------------------------------------------------------


def test_byol_target_gets_no_gradient_and_follows_the_ema():
    torch.manual_seed(0)
    model = create_model("byol", input_shape=(1, 8, 8), channels=(4, 8), proj_hidden=16, proj_dim=8, pred_hidden=16)
    obj = BYOL(BYOL.Config(momentum=0.9))
    x = torch.rand(6, 1, 8, 8)
    obj.prepare(model, x)
    assert obj.target.predictor is None
    before = {n: p.clone() for n, p in obj.target.named_parameters()}
    a, b = obj.views(x, torch.Generator().manual_seed(0))
    loss, _ = obj.loss(model, a, b)
    loss.backward()
    assert all(p.grad is None and not p.requires_grad for p in obj.target.parameters())
    assert all(p.grad is not None for p in model.predictor.parameters())
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))  # any optimizer step
    obj.after_step(model)
    online = dict(model.named_parameters())
    for n, xi in obj.target.named_parameters():
        torch.testing.assert_close(xi, 0.9 * before[n] + 0.1 * online[n].detach())  # xi <- tau xi + (1 - tau) theta


# -- augmentations ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "shape"), [("image", (5, 1, 8, 8)), ("table", (5, 6)), ("series", (5, 2, 32))])
def test_augmentations_are_deterministic_given_the_seed(kind, shape):
    x = torch.rand(shape)
    aug = Augment(AugmentConfig(kind=kind, noise=0.05))
    aug.fit(torch.rand(20, *shape[1:]))
    state = torch.random.get_rng_state()
    one = aug(x, torch.Generator().manual_seed(1))
    assert torch.equal(torch.random.get_rng_state(), state)  # kornia's draws leave the global RNG as it was
    torch.manual_seed(123)  # the global RNG does not matter either
    again = aug(x, torch.Generator().manual_seed(1))
    other = aug(x, torch.Generator().manual_seed(2))
    assert one.shape == x.shape and torch.equal(one, again) and not torch.equal(one, other)


def test_scarf_draws_replacements_from_the_marginals():
    train = torch.arange(40.0).reshape(10, 4) * torch.tensor([1.0, 100.0, 1e4, 1e6])  # column j has its own values
    aug = Augment(AugmentConfig(kind="table", corruption=0.5))
    aug.fit(train)
    x = -torch.ones(200, 4)
    out = aug(x, torch.Generator().manual_seed(0))
    replaced = out != -1
    assert 0.4 < float(replaced.double().mean()) < 0.6
    for j in range(4):
        assert set(out[replaced[:, j], j].tolist()) <= set(train[:, j].tolist())


def test_views_generator_resumes_exactly():
    task = tiny_task("simclr")
    state = task.state_dict()
    x = task.data.train.x[:4]
    first = task.objective.views(x, task.views_generator)
    task.load_state_dict(state)
    again = task.objective.views(x, task.views_generator)
    assert all(torch.equal(u, v) for u, v in zip(first, again, strict=True))


# -- metrics and the collapse alarm -----------------------------------------------------------------------


def test_effective_rank_alignment_uniformity_knn():
    g = torch.Generator().manual_seed(0)
    line = torch.randn(100, 1, generator=g) * torch.randn(1, 16, generator=g)  # every embedding on one line
    assert effective_rank(line) == pytest.approx(1.0, abs=0.01)
    iso = torch.randn(2000, 16, generator=g)
    assert 14.0 < effective_rank(iso) <= 16.0
    assert alignment(iso, iso) == pytest.approx(0.0, abs=1e-9)
    assert uniformity(torch.ones(10, 4)) == pytest.approx(0.0, abs=1e-6)  # collapsed: the maximum, 0
    assert uniformity(iso[:500]) < -1
    y = torch.arange(100) % 2
    x = F.one_hot(y, 2).float() + 0.1 * torch.randn(100, 2, generator=g)
    assert knn_accuracy(x[:80], y[:80], x[80:], y[80:], k=5) == 1.0
    assert knn_accuracy(x[:80], y[:80], x[80:], 1 - y[80:], k=5) == 0.0


def test_a_collapsed_encoder_has_rank_one_and_is_flagged():
    task = tiny_task("simclr")
    with torch.no_grad():  # the last conv stage outputs a constant: every image gets the same embedding
        task.model.encoder.net[-2].weight.zero_()  # BatchNorm of the last stage
        task.model.encoder.net[-2].bias.fill_(1.0)
    with pytest.warns(RuntimeWarning, match="collapse"):
        out = task.evaluate("test")
    assert out["test/effective_rank"] < 1.5
    assert "collapse" in task.ctx.cfg.info["collapse_warning"]
    healthy = tiny_task("simclr")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert healthy.evaluate("test")["test/effective_rank"] > 3
    assert "collapse_warning" not in healthy.ctx.cfg.info


def test_a_collapse_warning_reaches_the_log_and_the_card(tmp_path, caplog):
    cfg = resolve_config(
        "simclr", preset="tiny", overrides=["train.progress=false", "train.epochs=1", "task.collapse_rank=1000"]
    )
    run = RunDir.create(tmp_path, "simclr", "collapsed")
    with pytest.warns(RuntimeWarning, match="collapse"), caplog.at_level("WARNING", logger="dlzoo.representation"):
        train_run(cfg, run)
    assert "collapse" in caplog.text
    assert "collapse" in run.card_path.read_text()


# -- learning -------------------------------------------------------------------------------------------


def bars(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A toy set whose classes differ only in a bar's orientation (horizontal, vertical, two diagonals) at a
    random place, under a strong nuisance: a brightness offset in [0, 2] and pixel noise (sd 0.3). The
    augmentations (crops, a brightness offset, noise) change the nuisance and keep the orientation."""
    y = torch.arange(n) % 4
    x = torch.zeros(n, 1, 8, 8)
    pos = torch.randint(1, 7, (n,), generator=g)
    line = torch.arange(1, 7)
    for i in range(n):
        p, k = int(pos[i]), int(y[i])
        rows, cols = [(torch.full((6,), p), line), (line, torch.full((6,), p)), (line, line), (line, 7 - line)][k]
        x[i, 0, rows, cols] = 1.0
    return x + 2 * torch.rand(n, 1, 1, 1, generator=g) + 0.3 * torch.randn(n, 1, 8, 8, generator=g), y


def test_simclr_beats_a_random_encoder_on_knn():
    """100 SimCLR steps on the bars must beat the same untrained encoder's 20-NN accuracy by 15 points
    (measured: 0.71 untrained, 0.99 trained; chance is 0.25)."""
    g = torch.Generator().manual_seed(0)
    (x, y), (x_test, y_test) = bars(512, g), bars(256, g)
    torch.manual_seed(0)
    model = create_model("simclr", input_shape=(1, 8, 8), channels=(16, 32), proj_hidden=64, proj_dim=32)
    obj = SimCLR(
        SimCLR.Config(temperature=0.2, augment={"crop_scale": 0.6, "rotation": 0.0, "brightness": 1.0, "noise": 0.3})
    )

    def knn() -> float:
        model.eval()
        with torch.no_grad():
            return knn_accuracy(model.embed(x), y, model.embed(x_test), y_test, k=20)

    random = knn()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    views = torch.Generator().manual_seed(1)
    model.train()
    for _ in range(100):
        a, b = obj.views(x[torch.randint(0, len(x), (128,), generator=views)], views)
        loss, _ = obj.loss(model, a, b)
        opt.zero_grad()
        loss.backward()
        opt.step()
    trained = knn()
    assert trained > random + 0.15, (trained, random)


# -- serving ----------------------------------------------------------------------------------------------


def test_serving_embed_similar_and_bad_input(train_tiny):
    from dlzoo.data import load_dataset
    from dlzoo.runs import load_run
    from dlzoo.serve import create_app

    path = train_tiny("simclr")
    loaded = load_run(path)
    data = load_dataset("digits_images")
    x = data.test.x[:3]
    with TestClient(create_app(path.parent.parent)) as client:
        r = client.post("/v1/models/simclr/embed", json={"inputs": x.tolist()})
        assert r.status_code == 200, r.text
        assert r.json()["shape"] == [3, 32]
        with torch.no_grad():
            torch.testing.assert_close(
                torch.tensor(r.json()["embeddings"]), loaded.model.embed(x), atol=1e-5, rtol=1e-4
            )
        r = client.post("/v1/models/simclr/similar", json={"inputs": data.train.x[:2].tolist(), "k": 3})
        assert r.status_code == 200, r.text
        body = r.json()
        assert [row[0] for row in body["indices"]] == [0, 1]  # a training image's nearest is itself
        assert body["similarities"][0][0] == pytest.approx(1.0, abs=1e-4)
        assert body["labels"][0][0] == int(data.train.y[0])
        nan = x.clone()
        nan[0, 0, 0, 0] = float("nan")
        bad = [
            ("embed", {"inputs": torch.rand(2, 1, 7, 7).tolist()}),  # wrong shape
            ("embed", {"inputs": [["a"]]}),
            ("embed", {"inputs": (x + 2).tolist()}),  # outside the training range [0, 1]
            ("embed", {"inputs": torch.rand(4097, 64).tolist()}),  # over the batch limit
            ("similar", {"inputs": torch.rand(257, 1, 8, 8).tolist()}),  # over /similar's limit
            ("similar", {"inputs": x.tolist(), "k": 0}),
            ("similar", {"inputs": x.tolist(), "k": 10_000}),
            ("similar", {"inputs": x.tolist(), "extra": 1}),
        ]
        for verb, body in bad:
            r = client.post(f"/v1/models/simclr/{verb}", json=body)
            assert 400 <= r.status_code < 500, (verb, r.status_code, r.text[:200])
        r = client.post(
            "/v1/models/simclr/embed", content=b'{"inputs": [[NaN]]}', headers={"content-type": "application/json"}
        )
        assert 400 <= r.status_code < 500


# -- exact resume ------------------------------------------------------------------------------------------


def test_byol_interrupted_and_resumed_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    """The views generator and BYOL's EMA target are in every checkpoint: a run that crashes at the start
    of round 2 and resumes ends with the same metrics and weights as one that never stopped."""
    from safetensors.torch import load_file

    from dlzoo.tasks.representation import RepresentationTask

    over = ["train.progress=false", "train.epochs=3", "train.checkpoint_every=1", "task.few_labels=[]"]
    ref = RunDir.create(tmp_path, "byol", "ref")
    train_run(resolve_config("byol", preset="tiny", overrides=over), ref)

    original = RepresentationTask.train_round

    def crash_at_round_2(self, round_idx):
        if round_idx == 2:
            raise KeyboardInterrupt("simulated kill")
        return original(self, round_idx)

    run = RunDir.create(tmp_path, "byol", "killed")
    monkeypatch.setattr(RepresentationTask, "train_round", crash_at_round_2)
    with pytest.raises(KeyboardInterrupt):
        train_run(resolve_config("byol", preset="tiny", overrides=over), run)
    monkeypatch.setattr(RepresentationTask, "train_round", original)
    train_run(run.read_config(), run, resume=True)

    def history(r):
        return [{k: v for k, v in row.items() if k != "time"} for row in r.read_metrics()]

    assert history(run) == history(ref)
    a, b = load_file(run.weights_path), load_file(ref.weights_path)
    assert all(torch.equal(a[k], b[k]) for k in a)
