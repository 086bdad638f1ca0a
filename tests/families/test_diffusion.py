"""The diffusion family: the forward process and posterior against their formulas, the samplers on a
Gaussian whose exact eps is known, a trained model's mixture weights and likelihood, serving, and
parity of the DDPM / DDIM steps with diffusers (skipped when diffusers is absent)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from fastapi.testclient import TestClient

from dlzoo.families.diffusion.likelihood import nll_data
from dlzoo.families.diffusion.model import Diffusion
from dlzoo.families.diffusion.networks import MLPDenoiser
from dlzoo.families.diffusion.objective import DiffusionObjective
from dlzoo.families.diffusion.presets import ddpm_2d
from dlzoo.families.diffusion.samplers import SAMPLERS, ddim_step, ddpm_step, drain, generate, run_sampler
from dlzoo.families.diffusion.schedule import NoiseSchedule, make_betas
from dlzoo.layers import SinCosFeatures, fit_standardizers
from dlzoo.registry import RegistryError


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_closed_form_q_xt_x0_equals_iterated_single_steps() -> None:
    """q(x_t | x_0) = N(sqrt(abar_t) x0, 1 - abar_t) (eq. 4) against t+1 steps of eq. 2, in moments."""
    for name in ("linear", "cosine"):
        sched = NoiseSchedule(make_betas(name, 100))
        g = torch.Generator().manual_seed(0)
        x0 = torch.full((40000, 1), 1.5)
        x = x0.clone()
        t_end = 59
        for t in range(t_end + 1):
            x = sched.q_step(x, torch.full((len(x),), t), torch.randn(x.shape, generator=g))
        closed = sched.q_sample(x0, torch.full((len(x),), t_end), torch.randn(x.shape, generator=g))
        a = float(sched.abar[t_end])
        for sample in (x, closed):
            assert abs(float(sample.mean()) - math.sqrt(a) * 1.5) < 0.02
            assert abs(float(sample.std()) - math.sqrt(1 - a)) < 0.02


def test_posterior_mean_and_variance_match_the_product_of_gaussians() -> None:
    """mu~, beta~ (eq. 6-7) against Bayes: q(x_{t-1}|x0) q(x_t|x_{t-1}) normalized, for every t >= 1."""
    sched = NoiseSchedule(make_betas("cosine", 50))
    t = torch.arange(1, 50)
    x0, xt = torch.randn(49, 3, dtype=torch.float64), torch.randn(49, 3, dtype=torch.float64)
    mean, var = sched.posterior(x0, xt, t)
    a_prev, alpha, beta = sched.abar[t - 1][:, None], sched.alphas[t][:, None], sched.betas[t][:, None]
    precision = 1 / (1 - a_prev) + alpha / beta
    expect_mean = (a_prev.sqrt() * x0 / (1 - a_prev) + alpha.sqrt() * xt / beta) / precision
    torch.testing.assert_close(var.expand_as(mean), (1 / precision).expand_as(mean))
    torch.testing.assert_close(mean, expect_mean)
    # t = 0: abar_{-1} = 1, the posterior is x0 itself with zero variance
    m0, v0 = sched.posterior(x0[:1], xt[:1], torch.zeros(1, dtype=torch.long))
    torch.testing.assert_close(m0, x0[:1])
    assert float(v0.abs().max()) < 1e-12


def _gaussian_eps(sched: NoiseSchedule, m: float, v: float):
    """The exact E[eps | x_t] for data N(m, v): sqrt(1 - a) (x - sqrt(a) m) / (a v + 1 - a)."""

    def eps(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = sched.abar_cont(t.double()).to(x).view(-1, 1)
        return (1 - a).sqrt() * (x - a.sqrt() * m) / (a * v + 1 - a)

    return eps


@pytest.mark.parametrize(
    ("sampler", "steps", "eta"),
    [("ddpm", 1000, 0.0), ("ddim", 1000, 1.0), ("ddim", 200, 0.0), ("euler_maruyama", 500, 0.0), ("heun", 50, 0.0)],
)
def test_every_sampler_recovers_a_gaussian_from_its_exact_eps(sampler: str, steps: int, eta: float) -> None:
    """DDIM with eta = 1 on the DDPM chain is ancestral sampling: both (and the others) give N(m, v).
    First-order discretizations shrink the spread with few steps (T = 100 ancestral: std 0.466; DDIM eta = 0
    with 20 / 50 / 100 steps: 0.432 / 0.474 / 0.488 for 0.5), so the steps here are fine ones."""
    sched = NoiseSchedule(make_betas("linear", 1000))
    m, v = 1.0, 0.25
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20000, 1, generator=g)
    out = drain(run_sampler(sampler, _gaussian_eps(sched, m, v), sched, x, steps=steps, eta=eta, generator=g))
    assert abs(float(out.mean()) - m) < 0.03, (sampler, float(out.mean()))
    assert abs(float(out.std()) - math.sqrt(v)) < 0.03, (sampler, float(out.std()))


def test_ddim_eta_one_equals_the_ancestral_step_exactly() -> None:
    sched = NoiseSchedule(make_betas("linear", 1000))
    x, eps, z = torch.randn(3, 5, dtype=torch.float64).unbind(0)
    for t, s in [(999, 979), (500, 499), (20, 0)]:
        a_t, a_s = sched.abar[t], sched.abar[s]
        torch.testing.assert_close(
            ddim_step(eps, x, a_t, a_s, z, eta=1.0, clip=False), ddpm_step(eps, x, a_t, a_s, z, clip=False)
        )


def test_unknown_sampler_lists_the_valid_ones() -> None:
    model = Diffusion(MLPDenoiser(2, hidden=8, blocks=1), input_shape=(2,), timesteps=10)
    with pytest.raises(RegistryError, match="ddim") as e:
        drain(generate(model, 2, sampler="nope"))
    assert all(name in str(e.value) for name in SAMPLERS)


def test_the_mlp_denoiser_sees_x_beside_its_sin_cos_features() -> None:
    torch.manual_seed(0)
    net = MLPDenoiser(2, hidden=8, blocks=1, x_frequencies=3)
    assert net.inp.in_features == 2 * (1 + 2 * 3)
    x, t = torch.randn(5, 2), torch.randint(0, 10, (5,))
    angles = torch.cat([x[:, d : d + 1] * torch.tensor([1.0, 2.0, 4.0]) for d in range(2)], dim=1)  # (5, 6)
    features = torch.cat([x, angles.sin(), angles.cos()], dim=1)
    out = net(x, t)
    net.features = SinCosFeatures(0)  # the same network without its own features, handed them by hand
    torch.testing.assert_close(out, net(features, t))
    with pytest.raises(RegistryError, match="x_frequencies"):
        ddpm_2d(input_shape=(2,), x_frequencies=-1)


def test_the_mnist_preset_builds_the_cpu_budget_unet() -> None:
    """The preset the benchmark trains: 16 base channels, 28 -> 14 -> 7, attention only at 7x7."""
    from dlzoo.config import resolve_config
    from dlzoo.families.diffusion.networks import SelfAttention
    from dlzoo.registry import create_model

    cfg = resolve_config("ddpm_mnist", preset="mnist")
    assert cfg.train.epochs == 4 and cfg.train.lr == 1e-3
    kwargs = {k: v for k, v in cfg.model.items() if k not in ("name", "input_shape")}
    assert kwargs["channels"] == 16
    model = create_model("ddpm_mnist", input_shape=(1, 28, 28), **kwargs)
    sizes = []
    for m in model.net.modules():
        if isinstance(m, SelfAttention):
            m.register_forward_hook(lambda mod, inp, out: sizes.append(tuple(out.shape[-2:])))
    with torch.no_grad():
        out = model.net(torch.zeros(2, 1, 28, 28), torch.tensor([0.0, 999.0]), torch.tensor([3, 10]))
    assert out.shape == (2, 1, 28, 28) and sizes and set(sizes) == {(7, 7)}
    assert 2e5 < sum(p.numel() for p in model.net.parameters()) < 4e5


def _mixture(n: int, g: torch.Generator) -> torch.Tensor:
    """1-D: 0.25 N(-2, 0.3^2) + 0.75 N(2, 0.3^2), (n, 1)."""
    right = torch.rand(n, generator=g) < 0.75
    return (torch.where(right, 2.0, -2.0) + 0.3 * torch.randn(n, generator=g))[:, None]


def _mixture_log_prob(x: torch.Tensor) -> torch.Tensor:
    comp = torch.distributions.Normal(torch.tensor([-2.0, 2.0]), 0.3)
    return torch.logsumexp(comp.log_prob(x) + torch.tensor([0.25, 0.75]).log(), dim=1)


def test_a_trained_model_samples_the_mixture_weights_and_its_ode_likelihood() -> None:
    """1500 Adam steps on a 1-D two-component mixture: the mass right of 0 is 0.75 +- 0.05 (an untrained
    or broken model is off), and the ODE NLL is within 0.15 nats of the true mixture's on test points."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    data = _mixture(8000, g)
    model = Diffusion(MLPDenoiser(1, hidden=64, blocks=2, emb_dim=16), input_shape=(1,), timesteps=200, ema_decay=0.99)
    fit_standardizers(model, data)
    objective = DiffusionObjective(DiffusionObjective.Config())
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    model.train()
    for _ in range(1500):
        idx = torch.randint(0, len(data), (256,), generator=g)
        loss, _ = objective.loss(model, data[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        for sampler, steps in [("ddim", 50), ("ddpm", 200)]:
            x = drain(generate(model, 4000, sampler=sampler, steps=steps, generator=g))
            right = float((x > 0).float().mean())
            assert abs(right - 0.75) < 0.05, (sampler, right)
    test = _mixture(500, torch.Generator().manual_seed(7))
    nll = float(nll_data(model, test, steps=50).mean())
    true = float(-_mixture_log_prob(test).mean())
    assert abs(nll - true) < 0.15, (nll, true)


def test_diffusers_ddpm_and_ddim_steps_match_ours() -> None:
    diffusers = pytest.importorskip("diffusers", reason="diffusers (the bench extra) is not installed")
    for ours, theirs in (("linear", "linear"), ("cosine", "squaredcos_cap_v2")):
        sched = NoiseSchedule(make_betas(ours, 1000))
        kw = {"num_train_timesteps": 1000, "beta_schedule": theirs, "clip_sample": False}
        ddpm = diffusers.DDPMScheduler(**kw, variance_type="fixed_small")
        torch.testing.assert_close(ddpm.betas.double(), sched.betas, atol=1e-6, rtol=1e-5)
        ddpm.set_timesteps(50)
        ddim = diffusers.DDIMScheduler(**kw, set_alpha_to_one=True)
        ddim.set_timesteps(50)
        x, eps = torch.randn(2, 4, 1, 3, 3).unbind(0)
        for t in (980, 500, 20):
            s = t - 1000 // 50
            a_t, a_s = sched.abar[t].float(), sched.abar[s].float()
            theirs_prev = ddpm.step(eps, t, x, generator=torch.Generator().manual_seed(t)).prev_sample
            noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(t))
            torch.testing.assert_close(
                ddpm_step(eps, x, a_t, a_s, noise, clip=False), theirs_prev, atol=1e-4, rtol=1e-4
            )
            theirs_prev = ddim.step(eps, t, x, eta=0.5, variance_noise=noise).prev_sample
            ours_prev = ddim_step(eps, x, a_t, a_s, noise, eta=0.5, clip=False)
            torch.testing.assert_close(ours_prev, theirs_prev, atol=1e-4, rtol=1e-4)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory):
    from dlzoo.config import resolve_config
    from dlzoo.runs import RunDir
    from dlzoo.training import train_run

    root = tmp_path_factory.mktemp("diffusion")
    cfg = resolve_config("ddpm_2d", preset="tiny", overrides=["train.progress=false", "train.epochs=1"])
    run = RunDir.create(root, "ddpm_2d", "r")
    train_run(cfg, run)
    return root, run.path


@pytest.fixture(scope="module")
def client(tiny_run):
    from dlzoo.serve import create_app

    with TestClient(create_app(tiny_run[0])) as c:
        yield c


def test_cli_sample_takes_the_family_request_and_flags(tiny_run, tmp_path) -> None:
    import numpy as np
    from typer.testing import CliRunner

    from dlzoo.cli import app

    out = tmp_path / "x.npy"
    runner = CliRunner()
    r = runner.invoke(
        app, ["sample", str(tiny_run[1]), "--request", '{"sampler": "ddim", "steps": 5, "n": 7}', "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert np.load(out).shape == (7, 2)
    r = runner.invoke(
        app, ["sample", str(tiny_run[1]), "--sampler", "heun", "--steps", "4", "--n", "3", "--out", str(out)]
    )
    assert r.exit_code == 0 and np.load(out).shape == (3, 2), r.output
    r = runner.invoke(app, ["sample", str(tiny_run[1]), "--sampler", "nope"])
    assert r.exit_code != 0 and "euler_maruyama" in (r.output + str(r.exception))


def test_sample_requests_are_bounded_and_stream_progress(client: TestClient) -> None:
    url = "/v1/models/ddpm_2d/sample"
    r = client.post(url, json={"n": 5, "sampler": "heun", "steps": 10, "seed": 3})
    assert r.status_code == 200, r.text
    assert r.json()["shape"] == [5, 2] and r.json()["sampler"] == "heun"
    assert client.post(url, json={"n": 5, "sampler": "heun", "steps": 10, "seed": 3}).json() == r.json()
    r = client.post(url, json={"sampler": "nope"})
    assert r.status_code == 422 and all(name in r.text for name in SAMPLERS)
    for bad, field in [({"steps": 0}, "steps"), ({"n": 0}, "n"), ({"eta": 2}, "eta"), ({"guidance": -1}, "guidance")]:
        r = client.post(url, json=bad)
        assert r.status_code == 422 and field in r.text, (bad, r.text)
    r = client.post(url, json={"n": 1, "steps": 500})  # tiny T = 200
    assert r.status_code == 422 and "T = 200" in r.text
    r = client.post(url, json={"label": 1})
    assert r.status_code == 422 and "unconditional" in r.text
    r = client.post(url, json={"n": 1000, "steps": 200})  # n x steps over the default budget of 4096
    assert r.status_code == 422 and "n x steps" in r.text
    r = client.post(url, json={"n": 3, "sampler": "ddpm", "steps": 40, "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [ln["step"] for ln in lines if "step" in ln] == list(range(2, 41, 2))
    assert lines[-2]["shape"] == [3, 2] and lines[-1]["done"] is True
