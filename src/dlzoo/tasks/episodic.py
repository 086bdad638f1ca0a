"""Episodic (meta-learning) paradigm: N-way K-shot episodes, one meta-update per meta-batch.

The batch source is ``dlzoo.data.fewshot.EpisodeSampler``: round r draws its
``task.meta_batches_per_round`` meta-batches of ``task.meta_batch_size`` episodes from a generator
seeded by ``(train.seed, r)``, so a run resumed at a round boundary sees the same tasks. The family
objective (``dlzoo.protocols.EpisodicObjective``) supplies

- ``meta_loss(model, episodes) -> (loss, logs)``: a scalar whose gradient is the meta-gradient (MAML's
  second-order one, FOMAML's, Reptile's theta - phi as a surrogate, a prototypical loss), stepped by
  the one optimizer of ``train:`` (``dlzoo.optim.make_optimizer``), logs ``query_loss`` /
  ``query_accuracy``;
- ``adapt(model, support_x, support_y, steps=...)`` and ``predict(model, adapted, query_x)``: what
  evaluation and serving (``/adapt``) run on each episode; neither changes the model.

``evaluate`` scores fixed episodes (``EpisodeSampler.fixed``: the same for every run; ``final=True``:
``task.final_eval_episodes``, 600 by default) and reports the mean query accuracy (or MSE) with the
half-width of its 95% confidence interval, 1.96 sd / sqrt(episodes).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from dlzoo.config import ConfigError
from dlzoo.tasks.base import Context, Logs, Optimization, build_model, load_data
from dlzoo.tasks.supervised import data_facts, record_info


def ci95(values: torch.Tensor) -> float:
    """Half-width of the normal 95% confidence interval of a mean over episodes: 1.96 sd / sqrt(n)."""
    n = len(values)
    return 1.96 * float(values.std(unbiased=True)) / math.sqrt(n) if n > 1 else float("nan")


class EpisodicTask:
    def __init__(self, ctx: Context) -> None:
        from dlzoo.data.fewshot import FewShotData

        self.ctx, self._data_type = ctx, FewShotData
        Objective = ctx.spec.objective
        self.cfg = Objective.Config(**ctx.cfg.task)
        self.objective = Objective(self.cfg)

    def setup(self) -> None:
        from dlzoo.data.fewshot import EpisodeSampler

        ctx, fabric, t, c = self.ctx, self.ctx.fabric, self.ctx.train, self.cfg
        self.data = load_data(ctx)
        if not isinstance(self.data, self._data_type):
            raise ValueError(
                f"data: {ctx.cfg.data['name']} is not a few-shot dataset; valid: omniglot, omniglot_synthetic, sinusoid"
            )
        record_info(ctx, self.data.info)
        self.regression = self.data.info.task == "regress"
        facts = data_facts(self.data.info)
        facts.pop("num_classes", None)
        # the head predicts the n_way labels of an episode (MAML); Baseline++ classifies every train class
        facts["out_features"] = 1 if self.regression else c.n_way
        facts["num_train_classes"] = self.data.pools["train"].num_classes
        ctx.cfg.info.update(n_way=c.n_way, k_shot=c.k_shot)
        self.model = build_model(ctx, facts)
        if fabric.world_size > 1:
            raise ValueError(
                "the episodic paradigm trains in one process (train.devices=1): its inner loops run on "
                "functional weights (torch.func), which DDP's gradient hooks do not see"
            )
        self.opt = Optimization(fabric, self.model, t)
        augment = None
        if c.augment == "affine":
            from dlzoo.data.affine import AffineJitter

            if len(self.data.info.input_shape) != 3:
                raise ConfigError(f"task.augment=affine distorts images (C, H, W); {ctx.cfg.data['name']} has none")
            augment = AffineJitter()
        self.sampler = EpisodeSampler(
            self.data,
            n_way=c.n_way,
            k_shot=c.k_shot,
            n_query=c.n_query,
            seed=t.seed,
            within_group=c.within_alphabet,
            augment=augment,
        )
        self.eval_sampler = EpisodeSampler(
            self.data,
            n_way=c.eval_n_way or c.n_way,
            k_shot=c.eval_k_shot or c.k_shot,
            n_query=c.n_query,
            seed=t.seed,
        )

    def num_rounds(self) -> int:
        return self.ctx.train.epochs

    def train_round(self, round_idx: int) -> Iterator[Logs]:
        self.model.train()
        batches = self.sampler.round(
            round_idx, count=self.cfg.meta_batches_per_round, meta_batch_size=self.cfg.meta_batch_size
        )
        for episodes in batches:
            # the plain module: torch.func.functional_call swaps its parameters for the fast weights
            loss, logs = self.objective.meta_loss(self.model, episodes)
            self.opt.step(loss)
            yield {f"train/{k}": v.detach() if torch.is_tensor(v) else v for k, v in logs.items()}
        self.opt.end_epoch()

    def evaluate(self, split: str, *, final: bool = False) -> dict[str, float]:
        if getattr(self.data, split) is None or split not in self.data.pools:
            return {}
        count = self.cfg.final_eval_episodes if final else self.cfg.eval_episodes
        scores = episode_scores(self.objective, self.model, self.eval_sampler.fixed(split, count))
        name = "mse" if self.regression else "accuracy"
        out = {f"{split}/{name}": float(scores.mean()), f"{split}/{name}_ci95": ci95(scores)}
        out[f"{split}/episodes"] = float(count)
        return out

    # -- contract / export ---------------------------------------------------------------------
    dynamic_dims = None  # one input, the batch dimension varies

    def example_inputs(self, n: int) -> tuple[torch.Tensor]:
        """The first n training inputs (n, *input_shape): what the backbone's forward takes."""
        return (self.data.train.x[:n].clone(),)

    def state_dict(self) -> dict[str, Any]:
        return self.opt.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state)

    def plots(self, folder: Path) -> list[Path]:
        return self.ctx.spec.plots.draw(self.objective, self.model, self.data, folder)


def episode_scores(objective: Any, model: torch.nn.Module, episodes: Any) -> torch.Tensor:
    """Per episode: query accuracy (classification) or query MSE (regression) after ``adapt``. (E,)"""
    model.eval()
    scores = []
    for ep in episodes:
        adapted = objective.adapt(model, ep.support_x, ep.support_y)
        with torch.no_grad():
            out = objective.predict(model, adapted, ep.query_x)
        if ep.query_y.is_floating_point():
            scores.append(F.mse_loss(out.reshape(ep.query_y.shape), ep.query_y))
        else:
            scores.append((out.argmax(-1) == ep.query_y).float().mean())
    return torch.stack(scores)
