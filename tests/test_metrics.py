"""Our own metrics against hand computation and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import trim_mean

from dlzoo.metrics import bits_per_dim, episodic_return_stats, importance_sampled_nll, log_mean_exp


@pytest.mark.parametrize("returns", [[10.0, 20.0], [1.0, 2.0, 3.0, 4.0, 100.0], list(np.arange(17.0) ** 2), [5.0]])
def test_return_stats_match_hand_computation(returns: list[float]) -> None:
    s = episodic_return_stats(returns, prefix="val/")
    r = np.asarray(returns)
    assert s["val/return_mean"] == pytest.approx(r.mean())
    assert s["val/return_iqm"] == pytest.approx(trim_mean(r, 0.25))
    assert s["val/return_median"] == pytest.approx(np.median(r))
    assert s["val/return_std"] == pytest.approx(r.std(ddof=1) if r.size > 1 else 0.0)
    assert s["val/episodes"] == r.size


def test_log_mean_exp_and_is_nll() -> None:
    x = torch.tensor([[0.0, math.log(3.0)], [math.log(2.0), math.log(5.0)]])  # (K=2, B=2)
    torch.testing.assert_close(log_mean_exp(x, dim=0), torch.log(torch.tensor([1.5, 4.0])))
    # constant log-weights: -log p(x) is exactly minus that constant, whatever K
    nll = importance_sampled_nll(lambda xb, n: torch.full((n, len(xb)), -7.0), torch.zeros(3, 4), k=250, chunk=100)
    torch.testing.assert_close(nll, torch.full((3,), 7.0))
    assert bits_per_dim(784 * math.log(2.0), 784) == pytest.approx(1.0)
