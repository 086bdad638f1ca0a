"""The resnet family: the residual switch checked analytically (a zeroed branch leaves the shortcut),
depth formulas, gradient flow at depth, and learning tests through dlzoo's own loop.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dlzoo.config import resolve_config
from dlzoo.families.resnet.model import BasicBlock, ConvResNet, MLPBlock, ResidualMLP
from dlzoo.runs import RunDir
from dlzoo.training.loop import train_run


def test_mlp_block_with_a_zero_branch_is_the_identity_or_zero() -> None:
    # y = x + Dropout(Linear(...)): with the last Linear zeroed, residual -> x exactly, plain -> 0
    x = torch.randn(6, 8)
    for residual, expected in ((True, x), (False, torch.zeros_like(x))):
        block = MLPBlock(8, 16, norm="batch", dropout_hidden=0.0, dropout_residual=0.0, residual=residual).eval()
        nn.init.zeros_(block.linear2.weight)
        nn.init.zeros_(block.linear2.bias)
        torch.testing.assert_close(block(x), expected)


@pytest.mark.parametrize("dims", [1, 2])
def test_basic_block_shortcuts(dims: int) -> None:
    # F(x) = BN(conv(...)); with the last BN's gamma = beta = 0 and eval statistics, F(x) = 0:
    # identity shortcut -> ReLU(x); projection shortcut (stride 2) -> ReLU(W_s x) (Eq. 2); plain -> 0
    x = torch.randn(3, 4, *([8] * dims))
    same = BasicBlock(4, 4, stride=1, dims=dims, residual=True).eval()
    down = BasicBlock(4, 8, stride=2, dims=dims, residual=True).eval()
    plain = BasicBlock(4, 8, stride=2, dims=dims, residual=False).eval()
    for block in (same, down, plain):
        nn.init.zeros_(block.bn2.weight)
        nn.init.zeros_(block.bn2.bias)
    torch.testing.assert_close(same(x), torch.relu(x))
    assert isinstance(down.shortcut, nn.Sequential) and down(x).shape == (3, 8, *([4] * dims))
    torch.testing.assert_close(down(x), torch.relu(down.shortcut(x)))
    torch.testing.assert_close(plain(x), torch.zeros(3, 8, *([4] * dims)))
    assert not any(isinstance(m, nn.Sequential) for m in plain.modules())  # no projection in a plain net


def weighted_layers(model: nn.Module) -> int:
    """Conv and linear layers on the main path (projection shortcuts are not counted, as in He et al.)."""
    shortcut = {id(m) for b in model.modules() if isinstance(b, BasicBlock) for m in b.shortcut.modules()}
    return sum(isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)) and id(m) not in shortcut for m in model.modules())


@pytest.mark.parametrize("blocks", [1, 3, 5])
def test_depths_follow_the_papers_formulas(blocks: int) -> None:
    conv = ConvResNet(in_channels=1, num_classes=10, dims=2, blocks=blocks, width=4)
    assert weighted_layers(conv) == 6 * blocks + 2  # He et al. 2016, Sec. 4.2
    mlp = ResidualMLP(in_features=5, out_features=2, n_blocks=blocks)
    assert weighted_layers(mlp) == 2 * blocks + 2
    assert conv(torch.randn(2, 1, 12, 12)).shape == (2, 10)


def test_bad_norm_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown norm 'group'; valid: batch, layer"):
        ResidualMLP(in_features=3, out_features=2, norm="group")


def test_shortcuts_keep_gradients_balanced_across_depth() -> None:
    # 62 layers at initialization: with identity shortcuts the first layer's gradient is about the head's
    # (ratio ~1 over seeds 0-2); stacked plainly with BatchNorm it explodes backwards (ratio ~300-600, the
    # gradient explosion of deep BN nets, Yang et al. 2019), one face of the optimization difficulty of Sec. 4.1
    ratios = {}
    for residual in (True, False):
        torch.manual_seed(0)
        net = ResidualMLP(
            in_features=20, out_features=3, d=32, d_hidden=32, n_blocks=30, dropout_hidden=0.0, residual=residual
        )
        x, y = torch.randn(64, 20), torch.randint(0, 3, (64,))
        nn.functional.cross_entropy(net(x), y).backward()
        ratios[residual] = (net.first.weight.grad.norm() / net.head.weight.grad.norm()).item()
    assert 0.25 < ratios[True] < 4 and ratios[False] > 50, ratios


def train(root: Path, model: str, *overrides: str) -> dict:
    cfg = resolve_config(model, preset="tiny", overrides=["train.progress=false", *overrides])
    return train_run(cfg, RunDir.create(root, model, "r"))


@pytest.mark.parametrize(
    ("model", "metric", "threshold"),
    [
        ("resmlp_classifier", "test/accuracy", 0.93),  # digits: chance 0.1, ~0.96
        ("resnet2d", "test/accuracy", 0.9),  # 8x8 digit images: ~0.97
        ("resnet1d", "test/accuracy", 0.9),  # generated CBF: chance 1/3, ~0.99
        ("resmlp_regressor", "test/r2", 0.15),  # diabetes: ~0.30; linear regression 0.33, the training mean 0
    ],
)
def test_tiny_presets_learn(tmp_path: Path, model: str, metric: str, threshold: float) -> None:
    result = train(tmp_path, model)
    assert result[metric] > threshold, result


def test_plain_switch_goes_through_the_config(tmp_path: Path) -> None:
    cfg = resolve_config(
        "resnet2d", preset="tiny", overrides=["model.residual=false", "train.epochs=1", "train.progress=false"]
    )
    run = RunDir.create(tmp_path, "resnet2d", "plain")
    train_run(cfg, run)
    assert run.read_config().model["residual"] is False
