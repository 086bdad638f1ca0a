"""Supervised paradigm: (x, y) mini-batches from in-memory tensors, one optimizer step per batch.

Classification minimizes cross-entropy on logits; regression minimizes mean squared error in target
units (``dlzoo.objectives``, the defaults; a family may bring a ``dlzoo.protocols.SupervisedObjective``
of its own). Metrics come from ``dlzoo.metrics`` (torchmetrics) and the objective's ``metrics``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from dlzoo.layers import fit_standardizers
from dlzoo.metrics import classification_metrics, regression_metrics
from dlzoo.tasks.base import Context, Logs, TensorBatches, Optimization, build_model, load_data


def data_facts(info: Any) -> dict[str, Any]:
    """What a model builder may need from the data, and what config.yaml records under ``info``."""
    shape = tuple(info.input_shape)
    derived: dict[str, Any] = {"input_shape": shape, "in_features": math.prod(shape), "in_channels": shape[0]}
    if info.num_classes is not None:
        derived["num_classes"] = info.num_classes
    elif info.task == "regress":
        derived["out_features"] = 1
    return derived


def batch_size_for(batch_size: int, fraction: float | None, n_train: int) -> int:
    """``train.batch_fraction``: min(batch_size, floor(fraction * N_train)), at least 1; else batch_size.

    Fawaz et al. (2019), their code: ``int(min(N_train / 10, 16))`` for FCN, ``min(N_train / 10, 64)``
    for ResNet; idempotent, so a config.yaml that records the size used resolves to it again."""
    if fraction is None:
        return batch_size
    return max(1, min(batch_size, math.floor(fraction * n_train + 1e-9)))


def record_info(ctx: Context, info: Any) -> None:
    ctx.cfg.info.update(
        dataset=info.name,
        dataset_version=info.version,
        data_task=info.task,
        input_shape=list(info.input_shape),
        num_classes=info.num_classes,
        class_names=list(info.class_names) if info.class_names else None,
        splits=dict(info.splits),
        split_note=info.split_note,
        input_range=list(info.input_range) if info.input_range else None,
    )


class SupervisedTask:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        Objective = ctx.spec.objective
        self.objective = Objective(Objective.Config(**ctx.cfg.task))

    def setup(self) -> None:
        ctx, fabric, t = self.ctx, self.ctx.fabric, self.ctx.train
        self.data = load_data(ctx)
        record_info(ctx, self.data.info)
        self.model = build_model(ctx, data_facts(self.data.info))
        fit_standardizers(self.model, self.data.train.x, self.data.train.y)
        t.batch_size = batch_size_for(t.batch_size, t.batch_fraction, len(self.data.train))
        if t.batch_fraction is not None:
            ctx.cfg.info["batch_size_rule"] = (
                f"min(batch_size, floor({t.batch_fraction} * N_train = {len(self.data.train)})) = {t.batch_size}"
            )
        self.opt = Optimization(fabric, self.model, t)
        self.batches = TensorBatches(
            self.data.train.x,
            self.data.train.y,
            batch_size=t.batch_size,
            seed=t.seed,
            rank=fabric.global_rank,
            world=fabric.world_size,
            device=fabric.device,
        )

    def num_rounds(self) -> int:
        return self.ctx.train.epochs

    def train_round(self, round_idx: int) -> Iterator[Logs]:
        self.opt.fmodel.train()
        for x, y in self.batches.epoch(round_idx):
            loss = self.objective.loss(self.opt.fmodel(x), y)
            self.opt.step(loss)
            yield {"train/loss": loss.detach()}
        self.opt.end_epoch()

    @torch.no_grad()
    def evaluate(self, split: str, *, final: bool = False) -> dict[str, float]:
        part = getattr(self.data, split)
        if part is None:
            return {}
        self.model.eval()
        device = self.ctx.fabric.device
        classify = self.ctx.spec.task == "classify"
        metrics = (classification_metrics(self.data.info.num_classes) if classify else regression_metrics()).to(device)
        total_loss = 0.0
        outs = []
        for start in range(0, len(part.x), 1024):
            x, y = part.x[start : start + 1024].to(device), part.y[start : start + 1024].to(device)
            out = self.model(x)
            outs.append(out.cpu())
            if classify:
                total_loss += F.cross_entropy(out, y, reduction="sum").item()
                metrics.update(out, y)
            else:
                metrics.update(out.reshape(y.shape), y)
        result = {f"{split}/{k}": float(v) for k, v in metrics.compute().items()}
        if classify:
            result[f"{split}/nll"] = total_loss / len(part.x)
        # the objective's metrics of the whole split (forecasting's MASE): out (N, ...), y (N, ...), train_y
        more = self.objective.metrics(torch.cat(outs), part.y, self.data.train.y)
        result.update({f"{split}/{k}": float(v) for k, v in more.items()})
        return result

    # -- contract / export ---------------------------------------------------------------------
    dynamic_dims = None  # one input, the batch dimension varies

    def example_inputs(self, n: int) -> tuple[torch.Tensor]:
        """The first n training inputs (n, *input_shape)."""
        return (self.data.train.x[:n].clone(),)

    def state_dict(self) -> dict[str, Any]:
        return self.opt.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state)

    def plots(self, folder: Path) -> list[Path]:
        if self.ctx.spec.task != "classify" or self.data.test is None:
            return []
        from dlzoo.plots import confusion_matrix_plot

        with torch.no_grad():
            pred = torch.cat([self.model(x).argmax(-1) for x in self.data.test.x.split(1024)])
        return [confusion_matrix_plot(self.data.test.y, pred, self.data.info.class_names, folder / "confusion.png")]
