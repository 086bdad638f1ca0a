"""Episodic-return statistics for reinforcement learning (Agarwal et al. 2021 recommend IQM + CIs)."""

from __future__ import annotations

import numpy as np


def episodic_return_stats(returns: list[float] | np.ndarray, *, prefix: str = "") -> dict[str, float]:
    """mean, sd, median, IQM (25%-trimmed mean), min, max and a 95% normal CI half-width."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size == 0:
        raise ValueError("episodic_return_stats needs at least one episode")
    cut = int(0.25 * r.size)  # IQM: mean after trimming 25% from each end (scipy's trim_mean, as rliable)
    middle = np.sort(r)[cut : r.size - cut]
    sd = float(r.std(ddof=1)) if r.size > 1 else 0.0
    return {
        f"{prefix}return_mean": float(r.mean()),
        f"{prefix}return_std": sd,
        f"{prefix}return_median": float(np.median(r)),
        f"{prefix}return_iqm": float(middle.mean()),
        f"{prefix}return_min": float(r.min()),
        f"{prefix}return_max": float(r.max()),
        f"{prefix}return_ci95": 1.96 * sd / float(np.sqrt(r.size)),
        f"{prefix}episodes": float(r.size),
    }
