"""Continual learning, EWC's machinery: the fast Linear-layer Fisher against per-example gradients, the
merged quadratic against the per-task sum, and the seeded Fisher subsample (the same after a reload)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlzoo.data.streams import StreamBatch, StreamHeads
from dlzoo.families.continual.model import ContinualMLP
from dlzoo.families.continual.regularization import (
    EWCConfig,
    EWCObjective,
    _linear_fisher,
    _linears_of,
    _vmap_fisher,
    diagonal_fisher,
)


def _task_il_data() -> tuple[ContinualMLP, StreamBatch, StreamHeads]:
    torch.manual_seed(0)
    model = ContinualMLP(input_shape=(5,), hidden=(4, 3), num_outputs=6)
    x, task = torch.randn(11, 5), torch.tensor([0, 1, 2, 0, 1, 2, 1, 0, 0, 2, 1])
    return model, StreamBatch(x, torch.zeros(11, dtype=torch.int64), task), StreamHeads("task", 2, 6, 3)


def test_linear_fast_path_equals_per_example_gradients() -> None:
    """Each example with its own head (inactive units -inf for it): the batched-delta formula must give the
    per-example gradients' weighted squares exactly, and ``diagonal_fisher`` must take that path."""
    model, data, heads = _task_il_data()
    linears = _linears_of(model)
    assert linears is not None and len(linears) == 3
    fast = _linear_fisher(model, data, heads, chunk=1, linears=linears)  # chunk * 32 > 11: one batch
    slow = _vmap_fisher(model, data, heads, chunk=4, linears=None)
    for f, s in zip(fast, slow, strict=True):
        torch.testing.assert_close(f, s, rtol=1e-5, atol=1e-9)
    for f, s in zip(diagonal_fisher(model, data, heads), fast, strict=True):
        torch.testing.assert_close(f, s)
    assert all(float(f.sum()) > 0 for f in fast)


def test_a_parameter_outside_linear_layers_takes_the_general_path() -> None:
    class Scaled(ContinualMLP):
        def __init__(self) -> None:
            super().__init__(input_shape=(5,), hidden=(4,), num_outputs=6)
            self.scale = nn.Parameter(torch.tensor(1.5))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x) * self.scale

    _, data, heads = _task_il_data()
    torch.manual_seed(1)
    model = Scaled()
    assert _linears_of(model) is None
    fisher = diagonal_fisher(model, data, heads)
    assert fisher[0].shape == () and float(fisher[0]) > 0  # the scale's (own parameters come first)
    for f, s in zip(fisher, _vmap_fisher(model, data, heads, chunk=3, linears=None), strict=True):
        torch.testing.assert_close(f, s)


def test_merged_penalty_equals_the_sum_over_tasks() -> None:
    """lambda/2 sum_t sum_i F_t,i (theta_i - theta*_t,i)^2, value and gradient, against the merged form
    (some Fisher entries exactly 0, as a dead unit gives)."""
    torch.manual_seed(0)
    model = ContinualMLP(input_shape=(5,), hidden=(4,), num_outputs=3)
    obj = EWCObjective(EWCConfig(ewc_lambda=7.0))
    theta = list(model.parameters())
    for _ in range(3):
        obj.fishers.append([torch.rand_like(p) * (torch.rand_like(p) > 0.2) for p in theta])
        obj.anchors.append([p.detach() + torch.randn_like(p) for p in theta])
    obj._cache = None
    merged = obj.penalty(model)
    g_merged = torch.autograd.grad(merged, theta, retain_graph=True)
    direct = (
        0.5
        * 7.0
        * sum(
            (f * (p - a).square()).sum()
            for fs, an in zip(obj.fishers, obj.anchors, strict=True)
            for f, p, a in zip(fs, theta, an, strict=True)
        )
    )
    torch.testing.assert_close(merged, direct, rtol=1e-5, atol=1e-5)
    for gm, gd in zip(g_merged, torch.autograd.grad(direct, theta), strict=True):
        torch.testing.assert_close(gm, gd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("online", [False, True])
def test_fisher_subsample_is_seeded_and_survives_a_reload(online) -> None:
    """The subsample of task t is the first n of a permutation seeded by t: two objectives agree, and one
    rebuilt from the other's state draws the next task's subsample as the original does."""
    from dlzoo.families.continual.regularization import OnlineEWCConfig, OnlineEWCObjective

    model, data, heads = _task_il_data()
    make = (
        (lambda: OnlineEWCObjective(OnlineEWCConfig(fisher_samples=4, gamma=0.5)))
        if online
        else (lambda: EWCObjective(EWCConfig(fisher_samples=4)))
    )
    a, b = make(), make()
    a.consolidate(model, data, heads)
    b.consolidate(model, data, heads)
    for fa, fb in zip(a.fishers[-1], b.fishers[-1], strict=True):
        assert torch.equal(fa, fb)
    full = diagonal_fisher(model, data, heads)
    assert not all(torch.equal(f, g) for f, g in zip(a.fishers[-1], full, strict=True))  # a subsample, not all 11
    c = make()
    c.load_state_dict(a.state_dict())
    a.consolidate(model, data, heads)
    c.consolidate(model, data, heads)
    for fa, fc in zip(a.fishers[-1], c.fishers[-1], strict=True):
        assert torch.equal(fa, fc)
    assert torch.equal(a.penalty(model), c.penalty(model))


def test_a_reused_linear_layer_falls_back_to_per_example_gradients() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner, self.out = nn.Linear(5, 5), nn.Linear(5, 6)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(torch.relu(self.inner(torch.relu(self.inner(x)))))

    _, data, heads = _task_il_data()
    torch.manual_seed(2)
    model = Twice()
    assert _linears_of(model) is not None  # every parameter in a Linear, but ``inner`` runs twice
    for f, s in zip(
        diagonal_fisher(model, data, heads), _vmap_fisher(model, data, heads, chunk=3, linears=None), strict=True
    ):
        torch.testing.assert_close(f, s)
