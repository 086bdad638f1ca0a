"""Forecasting objective: mean squared error to train, MASE and sMAPE reported beside mse/mae/r2."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.metrics.forecast import mase, naive_scale, smape
from dlzoo.protocols import SupervisedObjective


class ForecastObjective(SupervisedObjective):
    """L = mean (f(x) - y)^2 in target units; evaluation adds ``mase`` and ``smape``.

    The MASE scale is the in-sample MAE of the lag-``season`` naive forecast on the training targets,
    which are the training series in time order (the ``sunspots`` loader keeps them chronological).
    """

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        season: int = Field(1, ge=1, description="lag m of the naive forecast that scales MASE (1: yearly, M4)")

    def __init__(self, cfg: ForecastObjective.Config) -> None:
        self.cfg = cfg

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out.reshape(y.shape), y)  # (B, 1), (B,) -> ()

    def metrics(self, out: torch.Tensor, y: torch.Tensor, train_y: torch.Tensor) -> dict[str, float]:
        """Called by the supervised task at evaluation with all predictions of a split."""
        pred = out.reshape(y.shape)
        return {"mase": mase(pred, y, scale=naive_scale(train_y, m=self.cfg.season)), "smape": smape(pred, y)}
