"""The cnn family: "same" padding against torch's, architecture checks against the papers, learning
tests through dlzoo's own loop (generated CBF, scikit-learn digits, UCR files written on the fly), and
serving a time-series classifier over HTTP.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from torch import nn

from dlzoo import inference
from dlzoo.config import resolve_config
from dlzoo.data import timeseries
from dlzoo.families.cnn.model import FCN, InceptionModule, InceptionTime, LeNet, ResNet1d, SameConv1d
from dlzoo.runs import RunDir, load_run
from dlzoo.serve import create_app
from dlzoo.training.loop import train_run


@pytest.mark.parametrize("k", [1, 2, 3, 8, 10, 40])
def test_same_conv_matches_torch_same_padding(k: int) -> None:
    # Keras "same": total padding k - 1, floor half on the left; torch's padding="same" does the same
    torch.manual_seed(0)
    ours = SameConv1d(3, 4, k)
    ref = nn.Conv1d(3, 4, k, padding="same")
    ref.load_state_dict(ours.conv.state_dict())
    x = torch.randn(2, 3, 17)
    torch.testing.assert_close(ours(x), ref(x))
    assert ours(x).shape == (2, 4, 17)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_fcn_and_resnet_have_the_papers_layers() -> None:
    # FCN (Wang et al. 2017): conv 8/5/3 with 128/256/128 filters (+ bias), BN (gamma, beta), linear head
    fcn = FCN(in_channels=1, num_classes=2)
    expected = (
        (1 * 128 * 8 + 128)
        + 2 * 128
        + (128 * 256 * 5 + 256)
        + 2 * 256
        + (256 * 128 * 3 + 128)
        + 2 * 128
        + (128 * 2 + 2)
    )
    assert n_params(fcn) == expected == 264962
    # ResNet: 3 blocks (64, 128, 128); shortcuts: 1x1 conv + BN where the width changes, BN alone in block 3
    resnet = ResNet1d(in_channels=1, num_classes=2)
    shortcuts = [b.shortcut for b in resnet.blocks]
    assert isinstance(shortcuts[0], nn.Sequential) and isinstance(shortcuts[1], nn.Sequential)
    assert isinstance(shortcuts[2], nn.BatchNorm1d)
    assert [b.body[0].conv.conv.kernel_size[0] for b in resnet.blocks] == [8, 8, 8]
    assert [len(b.body) for b in resnet.blocks] == [3, 3, 3]


def test_resnet_block_adds_its_shortcut() -> None:
    # zero the last BN's scale and shift: F(x) = 0, so the block returns ReLU(shortcut(x)) exactly
    resnet = ResNet1d(in_channels=2, num_classes=3, filters=(4, 4)).eval()
    block = resnet.blocks[1]  # 4 -> 4 channels: shortcut is BN alone
    nn.init.zeros_(block.body[-1].bn.weight)
    nn.init.zeros_(block.body[-1].bn.bias)
    x = torch.randn(5, 4, 11)
    torch.testing.assert_close(block(x), torch.relu(block.shortcut(x)))


def test_inception_module_and_network_shapes() -> None:
    module = InceptionModule(5, filters=8, bottleneck=4, kernel_sizes=(9, 5, 3))
    assert module(torch.randn(2, 5, 31)).shape == (2, 32, 31)
    # a univariate input skips the bottleneck (Fawaz et al. 2020 use it only when C > 1)
    assert isinstance(InceptionModule(1).bottleneck, nn.Identity)
    net = InceptionTime(in_channels=3, num_classes=4)
    assert len(net.modules_) == 6 and len(net.shortcuts) == 2
    assert net(torch.randn(2, 3, 50)).shape == (2, 4)


def test_lenet_shapes_and_bad_input_shape() -> None:
    assert LeNet(input_shape=(1, 28, 28), num_classes=10)(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    with pytest.raises(ValueError, match="divisible by 4"):
        LeNet(input_shape=(1, 30, 30), num_classes=10)
    with pytest.raises(ValueError, match="odd kernel_size"):
        LeNet(input_shape=(1, 28, 28), num_classes=10, kernel_size=4)


def train(root: Path, model: str, *overrides: str, preset: str = "tiny") -> tuple[RunDir, dict]:
    cfg = resolve_config(model, preset=preset, overrides=["train.progress=false", *overrides])
    run = RunDir.create(root, model, "r")
    return run, train_run(cfg, run)


@pytest.fixture(scope="module")
def fcn_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunDir, dict]:
    return train(tmp_path_factory.mktemp("runs"), "fcn_tsc")


def test_fcn_learns_cylinder_bell_funnel(fcn_run: tuple[RunDir, dict]) -> None:
    # chance is 1/3; the tiny FCN gets ~0.96 on 300 generated test series from 30 training series
    run, result = fcn_run
    assert result["test/accuracy"] > 0.9
    losses = [r["train/loss"] for r in run.read_metrics() if "train/loss" in r]
    assert losses[-1] < 0.2 * losses[0]


@pytest.mark.parametrize("model", ["resnet_tsc", "inception_time"])
def test_resnet_and_inception_learn_cbf(tmp_path: Path, model: str) -> None:
    _, result = train(tmp_path, model)
    assert result["test/accuracy"] > 0.85, result  # ~0.91 each


def test_lenet_learns_digits(tmp_path: Path) -> None:
    _, result = train(tmp_path, "lenet")
    assert result["test/accuracy"] > 0.93, result  # chance 0.1; ~0.96 in 8 epochs


def test_fcn_trains_on_ucr_files(tmp_path: Path) -> None:
    # two classes of noisy sines at different frequencies, written in the 2018 TSV layout
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 40)
    for split, n in (("TRAIN", 20), ("TEST", 40)):
        folder = tmp_path / "Sines"
        folder.mkdir(exist_ok=True)
        lines = []
        for i in range(n):
            label = i % 2
            x = np.sin(2 * np.pi * (2 + 3 * label) * t + rng.uniform(0, 6)) + 0.3 * rng.normal(size=40)
            lines.append(f"{label + 1}\t" + "\t".join(f"{v:.5f}" for v in x))
        (folder / f"Sines_{split}.tsv").write_text("\n".join(lines) + "\n")
    _, result = train(
        tmp_path / "runs",
        "fcn_tsc",
        f"data.root={tmp_path}",
        "data.dataset=Sines",
        "train.epochs=30",
        "train.lr=0.01",
        "model.filters=[16,32,16]",
        preset="ucr",
    )
    assert result["test/accuracy"] > 0.9, result
    assert result["dataset_version"].startswith("ucr-tsv/Sines/")


def test_serve_predicts_a_series_and_rejects_a_wrong_length(fcn_run: tuple[RunDir, dict]) -> None:
    run, _ = fcn_run
    loaded = load_run(run.path)
    data = timeseries.cbf(n_train=30, n_test=300)
    series = data.test.x[:8]  # (8, 1, 128)
    with TestClient(create_app(run.path.parent.parent)) as client:
        ok = client.post("/v1/models/fcn_tsc/predict", json={"inputs": series.tolist()})
        assert ok.status_code == 200, ok.text
        body = ok.json()
        direct = inference.predict(loaded, series.tolist())
        assert body["labels"] == direct["labels"]
        torch.testing.assert_close(torch.tensor(body["probabilities"]), torch.tensor(direct["probabilities"]))
        assert body["class_names"][:2] == [data.info.class_names[i] for i in body["labels"][:2]]
        assert np.mean(np.array(body["labels"]) == data.test.y[:8].numpy()) >= 0.75
        bad = client.post("/v1/models/fcn_tsc/predict", json={"inputs": [[0.0] * 100]})
        assert bad.status_code == 422 and "(batch, 1, 128)" in bad.text
