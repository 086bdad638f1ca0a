"""Representation (self-supervised) paradigm: two augmented views of unlabelled batches, the method's loss.

The family objective (``dlzoo.protocols.RepresentationObjective``, e.g. ``families.ssl.objective``)
supplies ``views(x, generator)``, ``loss(model, view_a, view_b) -> (loss, logs)``, ``after_step``
(BYOL's EMA target), ``embed(model, x)`` and ``state_dict``. This module owns the rest:

- batches: ``TensorBatches(x)`` (labels are never seen in training); the views' randomness comes from
  one generator whose state is in ``state_dict()``, so a resumed run draws the same views;
- ``train/effective_rank``: RankMe of one view's embeddings every ``task.rank_every`` steps (one
  no-grad forward in eval mode, so BatchNorm's running statistics are untouched), the collapse alarm;
- evaluation on frozen embeddings (``dlzoo.metrics.representation``): cosine k-NN accuracy against the
  train embeddings (``<split>/knn_<k>_accuracy``), the linear probe (``linear_probe_accuracy``, final
  or every evaluation), a probe fitted on only ``n`` labels (``probe_<n>_labels_accuracy``, final),
  alignment and uniformity of two views (fixed evaluation generator), and the effective rank. An
  effective rank below ``task.collapse_rank`` warns (``RuntimeWarning``, the log) and is written to
  ``cfg.info`` (``collapse_warning``, shown in the card).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import torch

from dlzoo.layers import fit_standardizers
from dlzoo.metrics.representation import (
    alignment,
    effective_rank,
    knn_accuracy,
    linear_probe_accuracy,
    uniformity,
)
from dlzoo.tasks.base import Context, Logs, Optimization, TensorBatches, build_model, load_data
from dlzoo.tasks.supervised import data_facts, record_info

log = logging.getLogger("dlzoo.representation")

VIEWS_SEED_OFFSET = 7919  # the views' generator is seeded with train.seed + this (apart from the batch order's)
EVAL_SEED = 0  # the evaluation's views (alignment, uniformity) and few-label subsets: fixed draws
EVAL_BATCH = 1000


class RepresentationTask:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        Objective = ctx.spec.objective
        self.cfg = Objective.Config(**ctx.cfg.task)
        self.objective = Objective(self.cfg)

    def setup(self) -> None:
        ctx, fabric, t = self.ctx, self.ctx.fabric, self.ctx.train
        self.data = load_data(ctx)
        record_info(ctx, self.data.info)
        facts = data_facts(self.data.info)
        facts.pop("num_classes", None)  # labels are for evaluation only
        self.model = build_model(ctx, facts)
        fit_standardizers(self.model, self.data.train.x)  # a table encoder's input standardization
        self.opt = Optimization(fabric, self.model, t)
        self.objective.prepare(self.model, self.data.train.x)
        self.batches = TensorBatches(
            self.data.train.x,
            batch_size=t.batch_size,
            seed=t.seed,
            rank=fabric.global_rank,
            world=fabric.world_size,
            device=fabric.device,
        )
        # every process draws its own views; rank-dependent so shards are not augmented alike
        self.views_generator = torch.Generator().manual_seed(t.seed + VIEWS_SEED_OFFSET + fabric.global_rank)

    def num_rounds(self) -> int:
        return self.ctx.train.epochs

    def train_round(self, round_idx: int) -> Iterator[Logs]:
        self.opt.fmodel.train()
        steps = len(self.batches)
        for i, (x,) in enumerate(self.batches.epoch(round_idx)):
            view_a, view_b = self.objective.views(x, self.views_generator)  # (B, *input_shape) each
            loss, logs = self.objective.loss(self.opt.fmodel, view_a, view_b)
            self.opt.step(loss)
            self.objective.after_step(self.model)
            out: Logs = {"train/loss": loss.detach(), **{f"train/{k}": v.detach() for k, v in logs.items()}}
            if (round_idx * steps + i) % self.cfg.rank_every == 0:
                out["train/effective_rank"] = self._batch_rank(view_a)
            yield out
        self.opt.end_epoch()

    @torch.no_grad()
    def _batch_rank(self, x: torch.Tensor) -> float:
        self.model.eval()  # BatchNorm's running statistics stay those of training
        try:
            return effective_rank(self.objective.embed(self.model, x))
        finally:
            self.model.train()

    # -- evaluation on frozen embeddings --------------------------------------------------------
    @torch.no_grad()
    def embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """The representation of every row of x, (N, K) on the CPU, in eval mode."""
        self.model.eval()
        device = self.ctx.fabric.device
        chunks = [
            self.objective.embed(self.model, x[i : i + EVAL_BATCH].to(device)) for i in range(0, len(x), EVAL_BATCH)
        ]
        return torch.cat([c.float().cpu() for c in chunks])

    def evaluate(self, split: str, *, final: bool = False) -> dict[str, float]:
        part = getattr(self.data, split)
        if part is None:
            return {}
        cfg, train = self.cfg, self.data.train
        h = self.embeddings(part.x)  # (N, K)
        out = {f"{split}/effective_rank": effective_rank(h)}
        n_pairs = min(cfg.eval_pairs, len(part.x))
        g = torch.Generator().manual_seed(EVAL_SEED)
        view_a, view_b = self.objective.views(part.x[:n_pairs].to(self.ctx.fabric.device), g)
        out[f"{split}/alignment"] = alignment(self.embeddings(view_a), self.embeddings(view_b))
        out[f"{split}/uniformity"] = uniformity(h[:n_pairs])
        if part.y is not None and train.y is not None:
            n_ref = min(cfg.eval_train_examples or len(train.x), len(train.x))
            ref, ref_y = self.embeddings(train.x[:n_ref]), train.y[:n_ref]
            for k in cfg.knn_k:
                out[f"{split}/knn_{k}_accuracy"] = knn_accuracy(ref, ref_y, h, part.y, k=k)
            if final or cfg.probe_every_eval:
                out[f"{split}/linear_probe_accuracy"] = linear_probe_accuracy(
                    ref, ref_y, h, part.y, steps=cfg.probe_steps
                )
            if final:
                for n in cfg.few_labels:
                    idx = balanced_subset(ref_y, n, seed=EVAL_SEED)
                    out[f"{split}/probe_{n}_labels_accuracy"] = linear_probe_accuracy(
                        ref[idx], ref_y[idx], h, part.y, steps=cfg.probe_steps
                    )
        self._alarm(split, out[f"{split}/effective_rank"], h.shape[1])
        return out

    def _alarm(self, split: str, rank: float, dim: int) -> None:
        """Warn (log, RuntimeWarning, the card through cfg.info) when the embeddings collapsed."""
        if rank >= self.cfg.collapse_rank:
            return
        msg = (
            f"collapse: the {split} embeddings' effective rank is {rank:.2f} of {dim} dimensions "
            f"(< task.collapse_rank={self.cfg.collapse_rank}): they lie near a line, not a representation"
        )
        log.warning(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
        self.ctx.cfg.info["collapse_warning"] = msg

    # -- contract / export ---------------------------------------------------------------------
    dynamic_dims = None  # one input, the batch dimension varies

    def example_inputs(self, n: int) -> tuple[torch.Tensor]:
        """The first n training inputs (n, *input_shape)."""
        return (self.data.train.x[:n].clone(),)

    def state_dict(self) -> dict[str, Any]:
        return {
            **self.opt.state_dict(),
            "views_generator": self.views_generator.get_state(),
            "objective": self.objective.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state)
        self.views_generator.set_state(state["views_generator"])
        self.objective.load_state_dict(state.get("objective", {}))

    def plots(self, folder: Path) -> list[Path]:
        return self.ctx.spec.plots.draw(self.objective, self.model, self.data, folder)


def balanced_subset(y: torch.Tensor, n: int, *, seed: int) -> torch.Tensor:
    """Indices of n examples, as equal a number per class as n allows (the first classes get the rest),
    drawn without replacement from a generator with ``seed``: the "100 labels" of semi-supervised MNIST."""
    g = torch.Generator().manual_seed(seed)
    classes = torch.unique(y)
    per, extra = divmod(min(n, len(y)), len(classes))
    picks = []
    for j, c in enumerate(classes):
        members = (y == c).nonzero().flatten()
        take = min(len(members), per + (1 if j < extra else 0))
        picks.append(members[torch.randperm(len(members), generator=g)[:take]])
    return torch.cat(picks)
