"""Point-forecast accuracy: MASE and sMAPE (Hyndman & Koehler 2006; Makridakis 1993 / the M4 competition).

    MASE  = mean_t |y_t - yhat_t|  /  ( 1/(n-m) sum_{t=m+1..n} |y_t - y_{t-m}| )   scale: in-sample naive
    sMAPE = 100/N sum_t 2 |y_t - yhat_t| / (|y_t| + |yhat_t|)                      in percent, 0..200

MASE < 1: better than the seasonal-naive forecast (lag ``m``) was in-sample; it is scale-free and
defined where the series is zero (sunspots are, in some years), unlike MAPE. For yearly series the
M4 competition uses m = 1 (naive). sMAPE terms with y = yhat = 0 count as 0.
"""

from __future__ import annotations

import torch


def naive_scale(train_series: torch.Tensor, *, m: int = 1) -> float:
    """In-sample mean absolute error of the lag-m naive forecast y_t ~ y_{t-m} on the training series."""
    series = torch.as_tensor(train_series, dtype=torch.float64).flatten()
    if m < 1 or len(series) <= m:
        raise ValueError(f"naive_scale: need m >= 1 and more than m = {m} training values, got {len(series)}")
    scale = float((series[m:] - series[:-m]).abs().mean())
    if scale == 0:
        raise ValueError("naive_scale: the training series is constant, MASE is undefined")
    return scale


def mase(pred: torch.Tensor, target: torch.Tensor, *, scale: float) -> float:
    """Mean absolute scaled error with a precomputed ``scale`` (see :func:`naive_scale`)."""
    pred, target = _pair(pred, target)
    return float((pred - target).abs().mean()) / scale


def smape(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Symmetric mean absolute percentage error, in percent (0..200)."""
    pred, target = _pair(pred, target)
    denom = pred.abs() + target.abs()
    terms = torch.where(denom > 0, 2 * (pred - target).abs() / denom.clamp_min(1e-12), torch.zeros_like(denom))
    return 100.0 * float(terms.mean())


def _pair(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pred = torch.as_tensor(pred, dtype=torch.float64).flatten()
    target = torch.as_tensor(target, dtype=torch.float64).flatten()
    if pred.shape != target.shape or pred.numel() == 0:
        raise ValueError(f"forecast metrics: need equal, non-empty sizes, got {pred.numel()} and {target.numel()}")
    return pred, target
