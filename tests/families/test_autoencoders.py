"""Vanilla, denoising, sparse and contractive autoencoders: analytic checks, learning, serving.

The contractive penalty is checked three ways: the closed form of Rifai et al. (2011) against the
Jacobian from autograd, the vmap/jacrev Jacobian against autograd on a conv encoder, and the
Hutchinson estimate's mean against the exact value. Learning tests train the tiny presets through
the real loop (8x8 digits, seconds) and compare each regularizer's effect with the vanilla AE.
"""

from __future__ import annotations

import math

import pytest
import torch
from fastapi.testclient import TestClient

from dlzoo.config import resolve_config
from dlzoo.data import load_dataset
from dlzoo.families.autoencoder import jacobian
from dlzoo.families.autoencoder.ae_objective import (
    AutoencoderObjective,
    ContractiveObjective,
    DenoisingObjective,
    SparseObjective,
    corrupt,
    reconstruction_loss,
)
from dlzoo.metrics.representation import linear_probe_accuracy, psnr
from dlzoo.registry import create_model
from dlzoo.runs import RunDir, load_run
from dlzoo.training import train_run


def autograd_frobenius_sq(model, x: torch.Tensor) -> torch.Tensor:
    """||J||_F^2 per example from torch.autograd.functional.jacobian, one example at a time."""
    out = []
    for xi in x:
        jac = torch.autograd.functional.jacobian(lambda v: model.encode(v.unsqueeze(0)).squeeze(0), xi)
        out.append(jac.pow(2).sum())
    return torch.stack(out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """ae / dae / sparse / cae MLP tiny presets trained once each through the loop (same seed)."""
    root = tmp_path_factory.mktemp("ae_runs")
    out = {}
    wide = ["model.code_dim=128", "train.epochs=40"]  # over-complete (64 pixels): where denoising matters
    for name, overrides in [
        ("ae_mlp", wide),
        ("dae_mlp", wide),
        ("sparse_ae_mlp", ["task.weight=1.0"]),
        ("cae_mlp", ["task.weight=1.0"]),
    ]:
        cfg = resolve_config(name, preset="tiny", overrides=overrides)
        run = RunDir.create(root, name, "tiny")
        out[name] = (run, train_run(cfg, run))
    return out


# -- the contractive penalty ------------------------------------------------------------------------


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "linear"])
def test_closed_form_jacobian_matches_autograd(act):
    """sum_j s'(a_j)^2 sum_i W_ji^2 (Rifai et al. 2011, Sec. 3) equals ||dh/dx||_F^2 from autograd."""
    torch.manual_seed(0)
    model = create_model("cae_mlp", input_shape=(1, 5, 4), code_dim=7, code_activation=act).double()
    x = torch.rand(6, 1, 5, 4, dtype=torch.float64)
    assert jacobian.has_closed_form(model)
    h = model.encode(x)
    closed = jacobian.closed_form(h, model.encoder.code.weight, act)
    torch.testing.assert_close(closed, autograd_frobenius_sq(model, x))
    torch.testing.assert_close(jacobian.exact(model.encode, x, chunk=4), closed)  # vmap(jacrev) agrees too


def test_exact_jacobian_of_deeper_encoders_and_its_gradient():
    """A conv encoder and a two-layer MLP encoder: vmap(jacrev) equals autograd; the penalty's
    gradient w.r.t. the weights equals the gradient of the closed form where both apply."""
    torch.manual_seed(0)
    conv = create_model("cae_conv", input_shape=(1, 8, 8), channels=(4, 6), code_dim=5).double()
    deep = create_model("cae_mlp", input_shape=(1, 4, 4), hidden=(6,), code_dim=3).double()
    for model, shape in [(conv, (1, 8, 8)), (deep, (1, 4, 4))]:
        x = torch.rand(3, *shape, dtype=torch.float64)
        assert not jacobian.has_closed_form(model)
        torch.testing.assert_close(jacobian.exact(model.encode, x, chunk=2), autograd_frobenius_sq(model, x))
    one = create_model("cae_mlp", input_shape=(1, 4, 4), code_dim=5).double()
    x = torch.rand(4, 1, 4, 4, dtype=torch.float64)
    w = one.encoder.code.weight
    (g_closed,) = torch.autograd.grad(jacobian.closed_form(one.encode(x), w, "sigmoid").sum(), w)
    (g_exact,) = torch.autograd.grad(jacobian.exact(one.encode, x).sum(), w)
    torch.testing.assert_close(g_closed, g_exact)


def test_hutchinson_estimate_is_unbiased():
    """E_u ||J^T u||^2 = ||J||_F^2: the mean of 2000 probes is within 4 standard errors of the exact value."""
    torch.manual_seed(0)
    model = create_model("cae_conv", input_shape=(1, 8, 8), channels=(4, 6), code_dim=5)
    x = torch.rand(3, 1, 8, 8).requires_grad_(True)
    exact = jacobian.exact(model.encode, x.detach()).detach()
    g = torch.Generator().manual_seed(1)
    h = model.encode(x)
    draws = torch.stack([jacobian.hutchinson(h, x, generator=g).detach() for _ in range(2000)])  # (S, B)
    se = draws.std(0) / math.sqrt(len(draws))
    assert torch.all((draws.mean(0) - exact).abs() < 4 * se), (draws.mean(0), exact, se)
    assert torch.all(draws.std(0) > 0.05 * exact)  # an estimate, not the exact value in disguise


def test_contractive_loss_adds_lambda_times_jacobian():
    torch.manual_seed(0)
    model = create_model("cae_mlp", input_shape=(1, 8, 8), code_dim=10)
    x = torch.rand(5, 1, 8, 8)
    obj = ContractiveObjective(ContractiveObjective.Config(weight=0.3))
    loss, logs = obj.loss(model, x)
    logits, _ = model(x)
    recon = reconstruction_loss(logits, x, "bce").mean()
    jac = autograd_frobenius_sq(model, x).mean()
    torch.testing.assert_close(logs["jacobian_sq"], jac)
    torch.testing.assert_close(loss, recon + 0.3 * jac)
    hutch = ContractiveObjective(ContractiveObjective.Config(weight=0.3, jacobian="hutchinson"))
    loss_h, _ = hutch.loss(model, x)
    loss_h.backward()  # the estimate is differentiable (create_graph)
    assert model.encoder.code.weight.grad is not None and torch.isfinite(loss_h)


# -- denoising and sparsity --------------------------------------------------------------------------


def test_masking_and_gaussian_corruption():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, 1, 8, 8) + 0.1  # no exact zeros
    masked = corrupt(x, kind="mask", level=0.25, generator=g)
    zeroed = (masked == 0).float().mean()
    assert abs(zeroed - 0.25) < 0.01 and torch.equal(masked[masked != 0], x[masked != 0])
    noisy = corrupt(x, kind="gaussian", level=0.3, generator=g)
    assert abs(float((noisy - x).std()) - 0.3) < 0.01
    with pytest.raises(ValueError, match="valid: gaussian, mask"):
        corrupt(x, kind="saltpepper", level=0.1)


def test_denoising_loss_sees_the_corruption_and_targets_the_clean_input():
    torch.manual_seed(0)
    model = create_model("dae_mlp", input_shape=(1, 8, 8), code_dim=6)
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    x = torch.rand(8, 1, 8, 8) + 0.01
    loss, _ = DenoisingObjective(DenoisingObjective.Config(noise="mask", noise_level=0.5)).loss(model, x)
    assert len(seen) == 1 and 0.4 < float((seen[0] == 0).float().mean()) < 0.6
    torch.testing.assert_close(loss, reconstruction_loss(model(seen[0])[0], x, "bce").mean())


def test_sparse_kl_by_hand_and_l1():
    torch.manual_seed(0)
    model = create_model("sparse_ae_mlp", input_shape=(1, 8, 8), code_dim=4)
    x = torch.rand(16, 1, 8, 8)
    obj = SparseObjective(SparseObjective.Config(sparsity="kl", target=0.1, weight=2.0))
    _, h = model(x)
    pen, logs = obj.penalty(model, x, h)
    rho, q = 0.1, h.mean(0)
    kl = sum(rho * math.log(rho / v) + (1 - rho) * math.log((1 - rho) / (1 - v)) for v in q.tolist())
    assert logs["sparsity_kl"].item() == pytest.approx(kl, rel=1e-5) and pen.item() == pytest.approx(2 * kl, rel=1e-5)
    at_target = obj.penalty(model, x, torch.full((16, 4), 0.1))[1]["sparsity_kl"]
    assert at_target.abs() < 1e-6  # KL(rho || rho) = 0
    l1 = SparseObjective(SparseObjective.Config(sparsity="l1", weight=0.5)).penalty(model, x, h)
    torch.testing.assert_close(l1[0], 0.5 * h.abs().sum(-1).mean())
    relu = create_model("sparse_ae_mlp", input_shape=(1, 8, 8), code_dim=4, code_activation="relu")
    with pytest.raises(ValueError, match="needs sigmoid codes"):
        obj.loss(relu, x)


# -- models ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", ["transpose", "resize", "shuffle"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (1, 7, 7), (3, 12, 10)])
def test_conv_autoencoder_shapes_and_gradients(block, shape):
    torch.manual_seed(0)
    model = create_model(
        "ae_conv", input_shape=shape, channels=(4, 8), code_dim=5, block=block, code_activation="sigmoid"
    )
    x = torch.rand(2, *shape)
    logits, h = model(x)
    assert logits.shape == x.shape and h.shape == (2, 5) and torch.all((h > 0) & (h < 1))
    loss, _ = AutoencoderObjective(AutoencoderObjective.Config()).loss(model, x)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_bad_options_list_valid_choices():
    with pytest.raises(ValueError, match="valid: shuffle, resize, transpose|valid: resize, shuffle, transpose"):
        create_model("ae_conv", input_shape=(1, 8, 8), block="bilinear")
    with pytest.raises(ValueError, match="valid: linear, relu, sigmoid, tanh"):
        create_model("ae_mlp", input_shape=(1, 8, 8), code_activation="softmax")
    with pytest.raises(ValueError, match="needs images"):
        create_model("dae_conv", input_shape=(64,))


@pytest.mark.parametrize(("block", "fmt"), [("shuffle", "onnx"), ("resize", "torchscript")])
def test_export_parity_of_other_decoder_blocks(block, fmt, tmp_path):
    """The contract tests export the transpose default; the other two decoder blocks export too."""
    pytest.importorskip("onnxruntime")
    from dlzoo.export import export_model

    model = create_model("ae_conv", input_shape=(1, 7, 7), channels=(4, 8), code_dim=3, block=block)
    report = export_model(model, torch.rand(2, 1, 7, 7), tmp_path / f"ae.{fmt}", fmt=fmt)
    assert report.outputs == 2 and report.max_abs_diff < 1e-4


# -- metrics --------------------------------------------------------------------------------------------


def test_psnr_and_linear_probe():
    x = torch.rand(10, 1, 8, 8)
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    mse = float((x - y).pow(2).mean())
    assert psnr([(y[:4], x[:4]), (y[4:], x[4:])]) == pytest.approx(10 * math.log10(1 / mse), rel=1e-4)
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(3, 5, generator=g) * 4
    labels = torch.randint(0, 3, (300,), generator=g)
    feats = centers[labels] + torch.randn(300, 5, generator=g)
    assert linear_probe_accuracy(feats[:200], labels[:200], feats[200:], labels[200:]) > 0.95
    noise = torch.randn(300, 5, generator=g)  # no information about the labels: chance level
    assert linear_probe_accuracy(noise[:200], labels[:200], noise[200:], labels[200:]) < 0.55


# -- learning (through the loop) --------------------------------------------------------------------


def test_autoencoder_learns_and_writes_its_plots(runs):
    run, result = runs["ae_mlp"]
    data = load_dataset("digits_images")
    mean_image_mse = float((data.test.x - data.train.x.mean(0)).pow(2).mean())  # ~ 0.06
    assert result["test/mse"] < 0.6 * mean_image_mse
    assert result["test/psnr"] > 10 * math.log10(1 / mean_image_mse) + 2
    assert result["test/probe_accuracy"] > 0.93  # 10 classes: chance is 0.1
    assert {"reconstructions.png", "filters.png", "learning_curves.png"} <= {p.name for p in run.plots_dir.iterdir()}


def test_denoising_ae_denoises_better_than_the_vanilla_ae(runs):
    """Over-complete codes (128 for 64 pixels): trained on 25% masking, the DAE reconstructs 25%-masked
    test images better than the plain AE (which drifts towards the identity) and far better than the
    masked images themselves (seed 0: 16.4 vs 14.9 vs 12.4 dB)."""
    dae, ae = runs["dae_mlp"][1], runs["ae_mlp"][1]
    assert dae["test/denoise_psnr"] > ae["test/denoise_psnr"] + 0.8
    assert ae["test/psnr"] > dae["test/psnr"]  # on clean inputs the plain AE reconstructs better
    assert dae["test/denoise_psnr"] > dae["test/noisy_psnr"] + 2.0


def test_sparsity_and_contraction_do_what_they_say(runs):
    ae, sparse, cae = runs["ae_mlp"][1], runs["sparse_ae_mlp"][1], runs["cae_mlp"][1]
    assert sparse["test/mean_activation"] < 0.5 * ae["test/mean_activation"]
    assert cae["test/jacobian_norm"] < 0.7 * ae["test/jacobian_norm"]
    assert cae["test/mse"] < 0.06  # still an autoencoder, not a constant


# -- serving --------------------------------------------------------------------------------------------


def test_serving_reconstruct_embed_and_bad_input(runs):
    from dlzoo.serve import create_app

    root = runs["ae_mlp"][0].path.parent.parent
    model = load_run(runs["ae_mlp"][0].path).model
    x = load_dataset("digits_images").test.x[:3]
    with TestClient(create_app(root)) as client:
        r = client.post("/v1/models/ae_mlp/reconstruct", json={"inputs": x.tolist()})
        assert r.status_code == 200, r.text
        torch.testing.assert_close(
            torch.tensor(r.json()["reconstructions"]), AutoencoderObjective.reconstruct(model, x), atol=1e-6, rtol=1e-5
        )
        r = client.post("/v1/models/ae_mlp/embed", json={"inputs": x[0].tolist()})
        assert r.status_code == 200, r.text
        assert r.json()["shape"] == [1, 128]
        torch.testing.assert_close(torch.tensor(r.json()["codes"]), model.encode(x[:1]), atol=1e-6, rtol=1e-5)
        bad = {
            "reconstruct": [torch.rand(2, 1, 7, 7).tolist(), (255 * x).tolist(), torch.rand(2, 3, 8, 8).tolist()],
            "embed": [torch.rand(2, 1, 7, 7).tolist(), (x - 1).tolist(), [["a"]]],
        }
        for verb, bodies in bad.items():
            for inputs in bodies:
                r = client.post(f"/v1/models/ae_mlp/{verb}", json={"inputs": inputs})
                assert r.status_code == 422, (verb, r.text)
                assert (
                    "expected" in r.json()["detail"] or "[0, 1]" in r.json()["detail"] or "inputs" in r.json()["detail"]
                )
        r = client.post("/v1/models/ae_mlp/sample", json={"n": 2})
        assert r.status_code == 400 and "reconstruct" in r.json()["detail"]  # no prior to sample from
