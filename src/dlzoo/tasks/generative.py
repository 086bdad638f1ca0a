"""Generative (likelihood / ELBO) paradigm: x-only mini-batches, the family objective's loss.

The family objective (e.g. ``families.autoencoder.objective.VAEObjective``) supplies:

- ``Config``: pydantic schema of the ``task:`` section;
- ``loss(model, x) -> (loss, logs)``: the scalar to minimize and per-batch diagnostics (unprefixed);
- ``evaluate(model, x, final=...) -> dict[str, Tensor(B,)]``: per-example metrics (``final`` may use
  expensive estimators, e.g. importance-sampled NLL with K = 1000);
- ``split_metrics(model, data, split, final=...) -> dict[str, float]`` (default none): metrics of a
  whole split that are not means of per-example values (a PSNR of the pooled error, a linear probe
  fitted on the train codes, a Jacobian norm on a subset), reported as ``<split>/<name>``; the model
  is in eval mode and gradients are off unless the objective turns them on.

``uses_labels = True`` (default False): the loss is called as ``loss(model, x, y)`` when the data has
labels (a class-conditional diffusion model), else ``loss(model, x)``.

Two members with defaults, for models trained by sampling or in closed form (the energy family):

- ``state_dict() / load_state_dict(state)`` (default: none): tensors the objective carries between
  steps (persistent Gibbs chains, a Langevin replay buffer); saved under ``"objective"`` in every
  checkpoint, so a resumed run continues the same chains;
- ``closed_form = True`` with ``fit(model, x) -> logs``: a model fitted in closed form (a Hopfield
  network storing the training patterns): a round is then one ``fit`` call on the whole train split,
  without an optimizer step.

(``dlzoo.protocols.GenerativeObjective``). Figures come from the family's plots (``spec.plots``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import torch

from dlzoo.layers import fit_standardizers
from dlzoo.tasks.base import (
    Context,
    Logs,
    Optimization,
    TensorBatches,
    build_model,
    gradients_inside_the_loss,
    load_data,
)
from dlzoo.tasks.supervised import data_facts, record_info


class GenerativeTask:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        Objective = ctx.spec.objective
        self.objective = Objective(Objective.Config(**ctx.cfg.task))

    def setup(self) -> None:
        ctx, fabric, t = self.ctx, self.ctx.fabric, self.ctx.train
        self.data = load_data(ctx)
        record_info(ctx, self.data.info)
        facts = data_facts(self.data.info)
        facts.pop("num_classes", None)  # labels are not what a density model predicts
        self.model = build_model(ctx, facts)
        fit_standardizers(self.model, self.data.train.x)
        self.opt = Optimization(fabric, self.model, t)
        # objectives with ``uses_labels`` (class-conditional diffusion) get (x, y) batches when y exists
        self.labelled = bool(self.objective.uses_labels) and self.data.train.y is not None
        tensors = (self.data.train.x, self.data.train.y) if self.labelled else (self.data.train.x,)
        self.batches = TensorBatches(
            *tensors,
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
        if self.objective.closed_form:  # e.g. Hopfield storage: one call a round, no optimizer step
            with torch.no_grad():
                logs = self.objective.fit(self.model, self.data.train.x.to(self.ctx.fabric.device))
            yield {f"train/{k}": v for k, v in logs.items()}
            return
        for batch in self.batches.epoch(round_idx):
            with gradients_inside_the_loss():  # a Jacobian penalty differentiates inside the loss
                loss, logs = self.objective.loss(self.opt.fmodel, *batch)
            self.opt.step(loss)
            yield {"train/loss": loss.detach(), **{f"train/{k}": v.detach() for k, v in logs.items()}}
        self.opt.end_epoch()

    @torch.no_grad()
    def evaluate(self, split: str, *, final: bool = False) -> dict[str, float]:
        part = getattr(self.data, split)
        if part is None:
            return {}
        self.model.eval()
        sums: dict[str, float] = {}
        batch = 500
        for start in range(0, len(part.x), batch):
            x = part.x[start : start + batch].to(self.ctx.fabric.device)
            for k, v in self.objective.evaluate(self.model, x, final=final).items():
                sums[k] = sums.get(k, 0.0) + float(v.sum())
        out = {f"{split}/{k}": v / len(part.x) for k, v in sums.items()}
        if f"{split}/nll" in out:  # nats per example -> bits per dimension
            out[f"{split}/bits_per_dim"] = out[f"{split}/nll"] / (math.prod(part.x.shape[1:]) * math.log(2))
        more = self.objective.split_metrics(self.model, self.data, split, final=final)
        out.update({f"{split}/{k}": v for k, v in more.items()})
        return out

    # -- contract / export ---------------------------------------------------------------------
    dynamic_dims = None  # one input, the batch dimension varies

    def example_inputs(self, n: int) -> tuple[torch.Tensor]:
        """The first n training inputs (n, *input_shape)."""
        return (self.data.train.x[:n].clone(),)

    def state_dict(self) -> dict[str, Any]:
        # the objective's own tensors (persistent chains, replay buffers), {} for most objectives
        return {**self.opt.state_dict(), "objective": self.objective.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state)
        self.objective.load_state_dict(state.get("objective", {}))

    def plots(self, folder: Path) -> list[Path]:
        return self.ctx.spec.plots.draw(self.objective, self.model, self.data, folder)
