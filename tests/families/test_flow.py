"""The flow family: every bijection inverts and its log-det matches autograd's Jacobian; a 2-D density
integrates to 1; a tiny flow learns a Gaussian mixture; a diverging run keeps its last good checkpoint;
/log_prob and /sample answer bad requests with a 4xx that says what was expected."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from dlzoo.families.flow.autoregressive import MADE, MAFLayer
from dlzoo.families.flow.base import Permutation, standard_normal_log_prob
from dlzoo.families.flow.build import glow_image, maf_vector, nsf_vector, realnvp_image, realnvp_vector
from dlzoo.families.flow.ffjord import FFJORD
from dlzoo.families.flow.coupling import AffineCoupling, ConvNet, alternating_mask, channel_mask, checkerboard_mask, mlp
from dlzoo.families.flow.glow import InvConv1x1, MultiScale, squeeze, unsqueeze
from dlzoo.families.flow.model import Flow, ImageFlow
from dlzoo.families.flow.norms import ActNorm, BatchNormFlow
from dlzoo.families.flow.nsf import SplineAutoregressive, SplineCoupling
from dlzoo.families.flow.objective import grid_integral


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial weights (the zero-initialised last layers would make every coupling the identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


class ImageBijection(nn.Module):
    """A multi-scale flow as a bijection on (B, C, H, W) with an unflattened inverse (for the checks)."""

    def __init__(self, flow: MultiScale, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.flow, self.shape = flow, shape

    def forward(self, x):
        return self.flow(x)

    def inverse(self, z):
        return self.flow.inverse(z, self.shape)


def vector_bijections() -> dict[str, nn.Module]:
    d = 4
    bn = BatchNormFlow(d)
    bn.running_mean.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0]))
    bn.running_var.copy_(torch.tensor([0.5, 2.0, 1.5, 1.0]))
    return {
        "affine_coupling": AffineCoupling(alternating_mask(d, parity=1), mlp(d, (16,), 2 * d)),
        "maf": MAFLayer(d, (16, 16)),
        "spline_coupling": SplineCoupling(alternating_mask(d, parity=0), (16,), bins=5, bound=2.0),
        "spline_autoregressive": SplineAutoregressive(d, (16, 16), bins=5, bound=2.0),
        "reverse": Permutation.reverse(d),
        "permutation": Permutation.random(d, seed=3),
        "actnorm": ActNorm(d),
        "batchnorm": bn,
        "realnvp_stack": realnvp_vector(d, layers=3, hidden=(16,), batchnorm=True),
        "maf_stack": maf_vector(d, layers=2, hidden=(16,), batchnorm=False),
        "nsf_ar_stack": nsf_vector(d, kind="autoregressive", layers=2, hidden=(16,), bins=4, bound=2.0),
        "ffjord": FFJORD(d, (16, 16), steps=64),  # eval mode: exact trace; rk4 fine enough to match autograd
    }


def image_bijections() -> dict[str, nn.Module]:
    c, h, w = 2, 4, 4
    return {
        "checkerboard_coupling": AffineCoupling(checkerboard_mask(h, w, parity=0), ConvNet(c, 8, 2 * c)),
        "channel_coupling": AffineCoupling(channel_mask(c, parity=1), ConvNet(c, 8, 2 * c)),
        "actnorm_image": ActNorm(c),
        "invconv_lu": InvConv1x1(c, seed=1),
        "glow_multiscale": ImageBijection(glow_image((c, h, w), levels=2, steps=1, hidden=8), (c, h, w)),
        "realnvp_multiscale": ImageBijection(realnvp_image((1, h, w), levels=1, steps=1, hidden=8), (1, h, w)),
    }


def _input(name: str, shape: tuple[int, ...], n: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return 0.8 * torch.randn(n, *shape, generator=g, dtype=torch.float64)


CASES = [(n, "vector") for n in vector_bijections()] + [(n, "image") for n in image_bijections()]


def _build(name: str, kind: str) -> tuple[nn.Module, torch.Tensor]:
    table = vector_bijections() if kind == "vector" else image_bijections()
    module = _randomize(table[name]).double().eval()
    shape = (4,) if kind == "vector" else ((1, 4, 4) if name == "realnvp_multiscale" else (2, 4, 4))
    return module, _input(name, shape)


@pytest.mark.parametrize(("name", "kind"), CASES, ids=[c[0] for c in CASES])
def test_inverse_of_forward_is_the_identity(name: str, kind: str) -> None:
    module, x = _build(name, kind)
    with torch.no_grad():
        z, logdet = module(x)
        assert logdet.shape == (len(x),)
        torch.testing.assert_close(module.inverse(z), x, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("name", "kind"), CASES, ids=[c[0] for c in CASES])
def test_log_det_equals_autograd_jacobian(name: str, kind: str) -> None:
    """log|det J| of each example against torch.autograd.functional.jacobian of forward on that example."""
    module, x = _build(name, kind)
    for i in range(len(x)):
        xi = x[i : i + 1]

        def f(v: torch.Tensor, xi: torch.Tensor = xi) -> torch.Tensor:
            return module(v.view_as(xi))[0].flatten()

        jac = torch.autograd.functional.jacobian(f, xi.flatten())  # (D, D)
        expected = torch.linalg.slogdet(jac)[1]
        torch.testing.assert_close(module(xi)[1][0], expected, atol=1e-6, rtol=1e-6)


def test_spline_is_the_identity_outside_its_bound_and_monotone_inside() -> None:
    layer = _randomize(SplineAutoregressive(2, (8,), bins=6, bound=1.0)).double()
    x = torch.stack([torch.linspace(-3, 3, 401), torch.zeros(401)], 1).double()  # (401, 2)
    with torch.no_grad():
        z, _ = layer(x)
    outside = x[:, 0].abs() > 1
    torch.testing.assert_close(z[outside, 0], x[outside, 0])
    assert bool((z[1:, 0] - z[:-1, 0] > 0).all())


def test_made_outputs_depend_only_on_earlier_inputs() -> None:
    made = _randomize(MADE(5, (16, 16), params=2)).double()
    x = torch.randn(1, 5, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: made(v.view(1, 5))[0, :, 0], x.flatten())  # (5, 5)
    assert torch.equal(jac.triu() != 0, torch.zeros(5, 5, dtype=torch.bool))  # no output sees itself or later


def test_squeeze_round_trip_and_actnorm_data_dependent_init() -> None:
    x = torch.randn(2, 3, 4, 6)
    assert squeeze(x).shape == (2, 12, 2, 3)
    torch.testing.assert_close(unsqueeze(squeeze(x)), x, rtol=0, atol=0)
    an = ActNorm(3).train()
    data = 5 + 3 * torch.randn(64, 3, 4, 4)
    y, _ = an(data)
    assert bool(an.initialized) and "initialized" in an.state_dict()
    torch.testing.assert_close(y.mean((0, 2, 3)), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(y.std((0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    before = an.loc.detach().clone()
    an(data + 10)  # initialised once only
    torch.testing.assert_close(an.loc.detach(), before)


def test_image_flow_nll_counts_the_dequantization_and_logit() -> None:
    """An identity bijection: -log p(x) = -log N(s) - log|ds/dy| + D log L, computed by hand."""

    class Identity(nn.Module):
        def forward(self, x):
            return x.flatten(1), x.new_zeros(len(x))

    flow = ImageFlow(Identity(), input_shape=(1, 2, 2), levels=256)
    x = torch.tensor([[[[0.0, 1.0], [128 / 255, 3 / 255]]]])
    u = torch.full_like(x, 0.5)
    y = (x * 255 + u) / 256
    p = 0.05 + 0.9 * y
    s = torch.log(p / (1 - p))
    expected = standard_normal_log_prob(s) + (math.log(0.9) - torch.log(p * (1 - p))).sum() - 4 * math.log(256)
    torch.testing.assert_close(flow.log_prob(x, u), expected)


def test_density_of_a_2d_flow_integrates_to_one() -> None:
    torch.manual_seed(0)
    flow = Flow(_randomize(nsf_vector(2, kind="coupling", layers=2, hidden=(16,), bins=6, bound=3.0)), input_shape=(2,))
    flow.eval()
    integral = grid_integral(flow, (-7.0, -7.0), (7.0, 7.0), n=400)
    assert abs(integral - 1) < 0.01, integral


# -- learning ------------------------------------------------------------------------------------------


def test_a_tiny_flow_fits_a_gaussian_mixture_in_seconds() -> None:
    """4 Gaussians (std 0.5) at (+-2, +-2): entropy log 4 + log(2 pi e 0.25) = 2.84 nats; the best single
    Gaussian reaches 4.28. 400 Adam steps of a 2-layer spline coupling flow must get below 3.1."""
    from dlzoo.families.flow.objective import FlowObjective
    from dlzoo.layers import fit_standardizers
    from dlzoo.registry import create_model

    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[2.0, 2.0], [2.0, -2.0], [-2.0, 2.0], [-2.0, -2.0]])

    def draw(n: int) -> torch.Tensor:
        return centers[torch.randint(4, (n,), generator=g)] + 0.5 * torch.randn(n, 2, generator=g)

    train, test = draw(4000), draw(2000)
    torch.manual_seed(0)
    model = create_model("nsf", input_shape=(2,), layers=2, hidden=(32, 32), bins=8)
    fit_standardizers(model, train)
    objective = FlowObjective(FlowObjective.Config())
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(400):
        loss, _ = objective.loss(model, train[torch.randint(len(train), (128,), generator=g)])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        nll = float(objective.evaluate(model, test)["nll"].mean())
    assert nll < 3.1, nll


# -- the loop: a diverging flow keeps its last good checkpoint -------------------------------------------


def test_a_nan_log_det_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path: Path, monkeypatch) -> None:
    """In round 3 a coupling's log-scale factor becomes infinite (a deep coupling blowing up): the log-det
    and the loss are NaN, the run stops with TrainingDiverged and round 2's checkpoint stays, finite."""
    from dlzoo.config import resolve_config
    from dlzoo.families.flow.objective import FlowObjective
    from dlzoo.runs import RunDir, TrainingDiverged
    from dlzoo.training.loop import train_run

    real_loss, calls = FlowObjective.loss, {"n": 0}

    def blowing_up(self, model, x):
        calls["n"] += 1
        if calls["n"] == 56:  # 16 steps a round, rounds counted from 0: inside round 3
            with torch.no_grad():
                getattr(model, "module", model).transform.steps[1].scale.fill_(float("inf"))
        return real_loss(self, model, x)

    monkeypatch.setattr(FlowObjective, "loss", blowing_up)
    cfg = resolve_config("realnvp", preset="tiny", overrides=["train.epochs=5", "train.progress=false"])
    run = RunDir.create(tmp_path, "realnvp", "nan")
    with pytest.raises(TrainingDiverged, match=r"train/loss = nan .*\(round 3\).*round 2 is kept"):
        train_run(cfg, run)
    ckpt = torch.load(run.checkpoint_path, weights_only=True)
    assert ckpt["round"] == 2 and all(torch.isfinite(v.float()).all() for v in ckpt["model"].values())
    assert not (run.path / "model.safetensors").exists()


# -- serving -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    from fastapi.testclient import TestClient

    from dlzoo.config import resolve_config
    from dlzoo.runs import RunDir
    from dlzoo.serve import create_app
    from dlzoo.training.loop import train_run

    root = tmp_path_factory.mktemp("flow_runs")
    for name, overrides in (("realnvp", []), ("glow", ["train.epochs=1"])):
        cfg = resolve_config(name, preset="tiny", overrides=[*overrides, "train.progress=false"])
        train_run(cfg, RunDir.create(root, name, "tiny"))
    with TestClient(create_app(root)) as c:
        yield c


def test_log_prob_gives_one_value_per_point_and_sample_is_seeded(client) -> None:
    r = client.post("/v1/models/realnvp/log_prob", json={"inputs": [[0.5, 0.2], [1.0, -0.3], [0.0, 0.5]]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["units"] == "nats" and len(body["log_prob"]) == 3 and all(math.isfinite(v) for v in body["log_prob"])
    one = client.post("/v1/models/realnvp/log_prob", json={"inputs": [0.5, 0.2]}).json()["log_prob"]
    assert one == pytest.approx(body["log_prob"][:1], abs=1e-5)
    a = client.post("/v1/models/realnvp/sample", json={"n": 5, "temperature": 0.7, "seed": 3}).json()
    b = client.post("/v1/models/realnvp/sample", json={"n": 5, "temperature": 0.7, "seed": 3}).json()
    assert a["shape"] == [5, 2] and a["samples"] == b["samples"]
    img = client.post("/v1/models/glow/sample", json={"n": 2}).json()
    assert img["shape"] == [2, 1, 8, 8] and 0 <= min(map(min, img["samples"][0][0])) <= 1


@pytest.mark.parametrize(
    ("model", "verb", "body", "expected"),
    [
        ("realnvp", "log_prob", {"inputs": [[0.5, 0.2, 0.1]]}, "shape (batch, 2)"),
        ("realnvp", "log_prob", {"inputs": [[0.5, "nan"]]}, "inputs"),
        ("realnvp", "log_prob", {"inputs": [[0.0, 0.0]] * 5000}, "over the limit of 4096"),
        ("realnvp", "log_prob", {}, "inputs"),
        ("glow", "log_prob", {"inputs": [[[[2.0] * 8] * 8]]}, "must lie in [0, 1]"),
        ("realnvp", "sample", {"n": 100000}, "n"),
        ("realnvp", "sample", {"n": 4, "temperature": 50}, "temperature"),
        ("realnvp", "sample", {"n": 4, "temperature": 0}, "temperature"),
    ],
)
def test_bad_requests_get_a_4xx_saying_what_was_expected(client, model, verb, body, expected) -> None:
    r = client.post(f"/v1/models/{model}/{verb}", json=body)
    assert 400 <= r.status_code < 500, r.text
    assert expected in r.text, r.text
