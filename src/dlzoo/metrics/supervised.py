"""Classification and regression metrics from torchmetrics, as one collection per task."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchmetrics import MetricCollection


def classification_metrics(num_classes: int) -> MetricCollection:
    """``accuracy`` = top-1 over all examples (micro), ``f1_macro`` = unweighted mean of per-class F1."""
    from torchmetrics import MetricCollection  # imported on use: it takes seconds, the server never needs it
    from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

    return MetricCollection(
        {
            "accuracy": MulticlassAccuracy(num_classes=num_classes, average="micro"),
            "f1_macro": MulticlassF1Score(num_classes=num_classes, average="macro"),
        }
    )


def regression_metrics() -> MetricCollection:
    """``mse``, ``rmse``, ``mae`` in target units; ``r2`` = 1 - SS_res / SS_tot."""
    from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score

    return MetricCollection(
        {
            "mse": MeanSquaredError(),
            "rmse": MeanSquaredError(squared=False),
            "mae": MeanAbsoluteError(),
            "r2": R2Score(),
        }
    )
