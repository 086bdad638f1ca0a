"""The Langevin EBM on images: the conv energy's shapes and builder, Langevin inside the [0, 1] box of the
``mnist`` preset, an MNIST-shaped run of that preset on scikit-learn's 8x8 digits (no download), export.

The contract tests exercise only the ``tiny`` preset (the MLP on the ring); the conv energy is checked here.
"""

from __future__ import annotations

import json

import pytest
import torch
from pydantic import ValidationError

from dlzoo.families.energy.ebm import ConvEnergy, langevin
from dlzoo.families.energy.ebm_objective import LangevinObjective
from dlzoo.families.energy.presets import MNIST_LANGEVIN, ebm
from dlzoo.registry import RegistryError


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 12, 16)])
def test_conv_energy_gives_one_energy_per_image_and_a_gradient_per_pixel(shape) -> None:
    torch.manual_seed(0)
    model = ConvEnergy(input_shape=shape, channels=(4, 8, 8), hidden=(16,))
    x = torch.rand(5, *shape, requires_grad=True)
    e = model(x)
    assert e.shape == (5,) and torch.isfinite(e).all()
    (grad,) = torch.autograd.grad(e.sum(), x)
    assert grad.shape == x.shape and torch.isfinite(grad).all()
    # energies are per example: changing image 0 leaves the others' energies alone (no batch statistics)
    y = x.detach().clone()
    y[0] = torch.rand(shape)
    torch.testing.assert_close(model(y)[1:], e.detach()[1:], rtol=1e-5, atol=1e-6)
    assert float((model(y)[0] - e[0]).detach().abs()) > 0


def test_the_builder_selects_the_architecture_and_refuses_bad_ones() -> None:
    assert isinstance(ebm(input_shape=(1, 28, 28), arch="conv", hidden=(32,)), ConvEnergy)
    assert not isinstance(ebm(input_shape=(2,)), ConvEnergy)
    with pytest.raises(RegistryError, match="images"):
        ebm(input_shape=(2,), arch="conv")
    with pytest.raises(RegistryError, match="valid: mlp, conv"):
        ebm(input_shape=(2,), arch="resnet")


def test_langevin_with_the_mnist_step_size_stays_in_the_unit_box() -> None:
    """Step size 10 on [0, 1] images throws most pixels far outside the box; the clamp keeps every one in."""
    torch.manual_seed(0)
    model = ConvEnergy(input_shape=(1, 8, 8), channels=(4, 8, 8), hidden=(16,))
    objective = LangevinObjective(LangevinObjective.Config(**MNIST_LANGEVIN))
    g = torch.Generator().manual_seed(0)
    x = objective.sample_with(model, 32, g, steps=10)
    assert x.shape == (32, 1, 8, 8) and float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    raw = langevin(model, torch.rand(32, 1, 8, 8), steps=1, step_size=10.0, noise=0.0, bounds=(-1e9, 1e9))
    assert float(raw.min()) < 0 or float(raw.max()) > 1  # without the box it leaves it: the clamp is doing work
    objective.loss(model, torch.rand(16, 1, 8, 8))
    assert float(objective.buffer.min()) >= 0.0 and float(objective.buffer.max()) <= 1.0


def test_the_box_bounds_go_together() -> None:
    assert LangevinObjective(LangevinObjective.Config(low=0.0, high=1.0)).bounds == (0.0, 1.0)
    assert LangevinObjective(LangevinObjective.Config(init_range=2.0)).bounds == (-2.0, 2.0)
    with pytest.raises(ValidationError, match="go together"):
        LangevinObjective.Config(low=0.0)
    with pytest.raises(ValidationError, match="below"):
        LangevinObjective.Config(low=1.0, high=0.0)


def test_mnist_preset_on_8x8_digits_learns_lower_energy_for_digits_than_noise(tmp_path) -> None:
    """The mnist preset (conv energy, step size 10, [0, 1] box) on the 8x8 digits: a complete run whose
    energy ranks test digits below uniform noise (an untrained energy ranks them at chance, about 0.5
    or far below: see the first assertion)."""
    from dlzoo.config import resolve_config
    from dlzoo.data import load_dataset
    from dlzoo.runs import RunDir, load_run
    from dlzoo.training import train_run

    over = [
        "data.name=digits_images",
        "model.channels=[8,16,16]",
        "model.hidden=[32]",
        "task.steps=10",
        "task.buffer_size=500",
        "task.eval_steps=20",
        "train.lr=1e-3",
        "train.batch_size=32",
        "train.epochs=2",
        "train.progress=false",
    ]
    test_x = load_dataset("digits_images").test.x  # (360, 1, 8, 8)
    noise = torch.rand(len(test_x), 1, 8, 8, generator=torch.Generator().manual_seed(1))

    def ranked(model: torch.nn.Module) -> float:
        """The fraction of (digit, noise) pairs with the digit at the lower energy."""
        with torch.no_grad():
            return float((model(test_x)[:, None] < model(noise)[None, :]).float().mean())

    cfg = resolve_config("ebm", preset="mnist", overrides=over)
    torch.manual_seed(0)
    arch = {k: v for k, v in cfg.model.items() if k != "name"}
    assert ranked(ebm(input_shape=(1, 8, 8), **arch)) < 0.9  # untrained: no such ranking
    run = RunDir.create(tmp_path, "ebm", "digits")
    train_run(cfg, run)
    assert (run.plots_dir / "samples.png").is_file()
    assert "test/energy" in json.loads(run.eval_path.read_text())
    buffer = run.load_checkpoint()["task"]["objective"]["buffer"]
    assert buffer.shape == (500, 1, 8, 8) and float(buffer.min()) >= 0 and float(buffer.max()) <= 1

    assert ranked(load_run(run.path).model) > 0.95


def test_conv_energy_exports_with_parity(tmp_path) -> None:
    export = pytest.importorskip("dlzoo.export")
    torch.manual_seed(0)
    model = ConvEnergy(input_shape=(1, 28, 28), channels=(4, 8, 8), hidden=(16,)).eval()
    x = torch.rand(3, 1, 28, 28)
    for fmt in ("onnx", "torchscript"):
        report = export.export_model(model, (x,), tmp_path / f"e.{fmt}", fmt=fmt, check=[(torch.rand(5, 1, 28, 28),)])
        assert report.path.is_file() and report.max_abs_diff <= 1e-4 * (1 + float(model(x).detach().abs().max()))
