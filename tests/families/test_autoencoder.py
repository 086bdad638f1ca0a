"""The VAE family: analytic checks of the objective, the IWAE bound, learning, inference and export."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from dlzoo.config import ConfigError, resolve_config
from dlzoo.data import load_dataset
from dlzoo.families.autoencoder.objective import (
    EVAL_SEED,
    VAEObjective,
    bernoulli_log_likelihood,
    gaussian_kl,
    log_importance_weights,
)
from dlzoo.registry import create_model
from dlzoo.runs import RunDir, load_run
from dlzoo.training import train_run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """vae_mlp's tiny preset trained once through the real loop (8x8 digits, dynamic binarization)."""
    cfg = resolve_config("vae_mlp", preset="tiny")
    run = RunDir.create(tmp_path_factory.mktemp("runs"), "vae_mlp", "tiny")
    result = train_run(cfg, run)
    return run, result


def test_gaussian_kl_matches_monte_carlo():
    """Closed-form KL(q || N(0, I)) (Kingma & Welling App. B) against E_q[log q(z) - log p(z)]."""
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=g)  # (B, D)
    logvar = torch.randn(4, 3, generator=g) * 0.5
    eps = torch.randn(200_000, 4, 3, generator=g)  # (S, B, D)
    z = mu + torch.exp(0.5 * logvar) * eps
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(0.0, 1.0)
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1)  # (S, B)
    se = mc.std(0) / math.sqrt(len(mc))
    assert (gaussian_kl(mu, logvar) - mc.mean(0)).abs().max() < 5 * se.max()
    torch.testing.assert_close(gaussian_kl(mu, logvar), torch.distributions.kl_divergence(q, p).sum(-1))
    assert torch.all(gaussian_kl(torch.zeros(2, 5), torch.zeros(2, 5)) == 0)


def test_bernoulli_log_likelihood_by_hand():
    logits = torch.tensor([[0.3, -1.2, 2.0]])
    x = torch.tensor([[1.0, 0.0, 1.0]])
    y = torch.sigmoid(logits)
    by_hand = (x * y.log() + (1 - x) * (1 - y).log()).sum(-1)
    torch.testing.assert_close(bernoulli_log_likelihood(logits, x), by_hand)


def test_vae_learns_digits_and_iwae_bound_is_tighter(trained):
    """Test neg ELBO beats the best model without a latent (independent pixels) by a clear margin,
    and the K = 1000 importance-sampled NLL lies below it (Burda et al. 2016: a tighter bound)."""
    run, result = trained
    data = load_dataset("digits_images")
    x = torch.bernoulli(data.test.x, generator=torch.Generator().manual_seed(EVAL_SEED))  # the eval binarization
    p = data.train.x.mean(0).clamp(1e-4, 1 - 1e-4)  # per-pixel Bernoulli, fitted to the training means
    independent = -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(-1).mean().item()  # ~ 27 nats
    untrained = (
        VAEObjective(VAEObjective.Config(dynamic_binarize=True, eval_iw_samples=0))
        .evaluate(create_model("vae_mlp", input_shape=(1, 8, 8), hidden=(128,), latent_dim=8).eval(), data.test.x)[
            "neg_elbo"
        ]
        .mean()
        .item()
    )  # ~ 64 ln 2 = 44 nats
    assert result["test/neg_elbo"] < independent - 2.0 < untrained - 15.0
    assert result["test/nll"] < result["test/neg_elbo"]
    assert result["test/neg_elbo"] - result["test/nll"] < 5.0  # a sane gap, not a broken estimator
    assert result["test/kl"] > 1.0  # the latent is used: no posterior collapse
    assert math.isclose(result["test/bits_per_dim"], result["test/nll"] / (64 * math.log(2)), rel_tol=1e-6)
    plots = {p.name for p in run.plots_dir.iterdir()}
    assert {"samples.png", "reconstructions.png", "learning_curves.png"} <= plots


@torch.no_grad()
def test_k1_importance_weight_is_the_elbo_in_expectation(trained):
    """E_q[-log w] with one sample = -ELBO: the mean of many K = 1 estimates matches
    recon (Monte Carlo, same samples' expectation) + the closed-form KL within a few standard errors."""
    model = load_run(trained[0].path).model
    x = torch.bernoulli(load_dataset("digits_images").test.x[:16], generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)
    neg_log_w = -log_importance_weights(model, x, 4000, generator=g)  # (S, B)
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(4000, *mu.shape, generator=g)  # (S, B, D)
    recon = -bernoulli_log_likelihood(model.decode(z.reshape(-1, mu.shape[-1])), x.repeat(4000, 1, 1, 1))
    neg_elbo = recon.reshape(4000, -1).mean(0) + gaussian_kl(mu, logvar)  # (B,)
    se = torch.sqrt(neg_log_w.var(0) / 4000 + recon.reshape(4000, -1).var(0) / 4000)
    diff = (neg_log_w.mean(0) - neg_elbo).detach()
    assert torch.all(diff.abs() < 5 * se.detach()), (diff, se)
    # K = 1 through the evaluator's estimator gives the same quantity as its neg ELBO, on average
    obj = VAEObjective(VAEObjective.Config(eval_iw_samples=1))
    out = obj.evaluate(model, x, final=True)
    assert abs(out["nll"].mean() - neg_log_w.mean()) < 0.2 * neg_log_w.mean()


def test_sample_and_reconstruct(trained):
    model = load_run(trained[0].path).model
    s = VAEObjective.sample(model, 10, torch.Generator().manual_seed(0))
    assert s.shape == (10, 1, 8, 8) and s.min() >= 0 and s.max() <= 1
    s2 = VAEObjective.sample(model, 10, torch.Generator().manual_seed(0))
    torch.testing.assert_close(s, s2)  # the generator decides the draw
    x = load_dataset("digits_images").test.x[:7]
    r = VAEObjective.reconstruct(model, x)
    assert r.shape == x.shape and r.min() >= 0 and r.max() <= 1
    assert (r - x).abs().mean() < (x.mean(0, keepdim=True) - x).abs().mean()  # better than the mean image


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (1, 7, 7), (3, 12, 10)])
@pytest.mark.parametrize("name", ["vae_mlp", "vae_conv"])
def test_shapes_gradients_and_determinism(name, shape):
    torch.manual_seed(0)
    model = create_model(name, input_shape=shape, latent_dim=5)
    x = torch.rand(3, *shape)
    logits, mu, logvar = model(x)  # train mode: z = mu + sigma * eps
    assert logits.shape == x.shape and mu.shape == logvar.shape == (3, 5)
    loss, logs = VAEObjective(VAEObjective.Config()).loss(model, x)
    loss.backward()
    assert torch.isfinite(loss) and set(logs) == {"recon", "kl", "neg_elbo"}
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert not torch.equal(model(x)[0], model(x)[0])  # a fresh eps each call
    model.eval()
    a, b = model(x), model(x)
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    torch.testing.assert_close(a[0], model.decode(a[1]))  # eval mode: z = mu


def test_conv_vae_rejects_images_too_small_or_flat():
    with pytest.raises(ValueError, match="need H, W >= 8"):
        create_model("vae_conv", input_shape=(1, 6, 6), channels=(8, 8, 8))
    with pytest.raises(ValueError, match="needs images"):
        create_model("vae_conv", input_shape=(784,))
    with pytest.raises(ValueError, match="valid: gelu, relu, softplus, tanh"):
        create_model("vae_mlp", input_shape=(4,), activation="swish")


def test_loss_goes_through_forward_and_binarizes():
    """DDP synchronizes gradients of the forward call: the loss must come from model(x), once,
    and with dynamic binarization the model sees 0/1 pixels."""
    model = create_model("vae_mlp", input_shape=(1, 8, 8), hidden=(16,), latent_dim=2)
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    VAEObjective(VAEObjective.Config(dynamic_binarize=True)).loss(model, torch.rand(5, 1, 8, 8))
    assert len(seen) == 1 and set(seen[0].unique().tolist()) <= {0.0, 1.0}


def test_evaluation_is_reproducible_and_independent_of_beta():
    model = create_model("vae_mlp", input_shape=(1, 8, 8), hidden=(16,), latent_dim=2).eval()
    x = torch.rand(6, 1, 8, 8)
    a = VAEObjective(VAEObjective.Config(dynamic_binarize=True, eval_iw_samples=50)).evaluate(model, x, final=True)
    b = VAEObjective(VAEObjective.Config(dynamic_binarize=True, eval_iw_samples=50, beta=4.0)).evaluate(
        model, x, final=True
    )
    assert all(torch.equal(a[k], b[k]) for k in ("neg_elbo", "recon", "kl", "nll"))
    torch.testing.assert_close(a["neg_elbo"], a["recon"] + a["kl"])
    no_iw = VAEObjective(VAEObjective.Config(val_iw_samples=0)).evaluate(model, x, final=False)
    assert "nll" not in no_iw


def test_config_lists_valid_choices():
    with pytest.raises(ValidationError):
        VAEObjective.Config(likelihood="gaussian")
    with pytest.raises(ConfigError, match="valid: beta"):
        resolve_config("vae_mlp", preset="tiny", overrides=["task.kl_weight=2"])
    assert resolve_config("vae_conv", preset="mnist").data["binarize"] == "stochastic"


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("name", ["vae_mlp", "vae_conv"])
def test_export_parity(name, fmt, tmp_path):
    """Eval-mode forward (z = mu) exports with a free batch size and matches PyTorch."""
    pytest.importorskip("onnxruntime")
    from dlzoo.export import export_model

    model = create_model(name, input_shape=(1, 8, 8), latent_dim=4)
    report = export_model(model, torch.rand(2, 1, 8, 8), tmp_path / f"vae.{fmt}", fmt=fmt)
    assert report.outputs == 3 and report.max_abs_diff < 1e-4
