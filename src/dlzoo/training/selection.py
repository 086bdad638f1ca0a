"""Early stopping and keep-best: the loop's one model-selection rule, for every paradigm.

``train.early_stop: {monitor: val/nll, mode: min, patience: 100}`` ends training when no monitored
metric improved on its best so far for ``patience`` checks in a row; ``train.keep_best: {monitor:
train/loss, mode: min}`` makes the run's result (its test evaluation and ``model.safetensors``) the
weights of the last round at which *every* monitored metric improved, not the last round.

A metric is checked when it is there: ``val/...`` after each validation, ``train/...`` (the round's
mean over its steps) every round. "Improves" is per metric: better than its best so far by more than
``min_delta``; with ``ties_improve`` an equal value counts too. Both settings together are the GAT
code's rule (Veličković et al. 2018): the patience counter restarts when val loss *or* accuracy
improves, and the saved model is the one where loss *and* accuracy were at their best.

The state (bests, counter, the kept weights, whether training stopped) is part of the checkpoint, so a
resumed run selects exactly what an uninterrupted one does. ``summary()`` is eval.json's ``selection``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from dlzoo.config import Criterion, EarlyStop, KeepBest, TrainConfig


class _Watch:
    """The best value so far of each monitored metric of one criterion."""

    def __init__(self, criterion: Criterion) -> None:
        self.c = criterion
        self.best: list[float | None] = [None] * len(criterion.monitor)

    def ready(self, metrics: dict[str, float]) -> bool:
        return all(m in metrics for m in self.c.monitor)

    def improved(self, metrics: dict[str, float]) -> list[bool]:
        """Which monitors improve on their best so far; updates the bests."""
        out = []
        for i, (name, mode) in enumerate(zip(self.c.monitor, self.c.mode, strict=True)):
            value, best = float(metrics[name]), self.best[i]
            if math.isnan(value):
                out.append(False)
                continue
            if best is None:
                better = True
            else:
                gain = (best - value) if mode == "min" else (value - best)
                better = gain >= self.c.min_delta if self.c.ties_improve else gain > self.c.min_delta
            if better:  # as Keras: the best moves only on an improvement
                self.best[i] = value
            out.append(better)
        return out

    def describe(self, metrics: dict[str, float]) -> str:
        return ", ".join(
            f"{m} {float(metrics[m]):.6g} ({mode})" for m, mode in zip(self.c.monitor, self.c.mode, strict=True)
        )


class Selection:
    """``train.early_stop`` and ``train.keep_best`` of one run."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.early: EarlyStop | None = cfg.early_stop
        self.keep: KeepBest | None = cfg.keep_best
        self.early_watch = _Watch(self.early) if self.early else None
        self.keep_watch = _Watch(self.keep) if self.keep else None
        self.bad_checks = 0
        self.stopped_round: int | None = None
        self.stop_reason = ""
        self.kept_round: int | None = None
        self.kept_reason = ""
        self.kept_weights: dict[str, torch.Tensor] | None = None
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.train_keys = {m for c in (self.early, self.keep) if c for m in c.monitor if m.startswith("train/")}
        self.val_keys = {m for c in (self.early, self.keep) if c for m in c.monitor if m.startswith("val/")}

    @property
    def active(self) -> bool:
        return self.early is not None or self.keep is not None

    @property
    def stopped(self) -> bool:
        return self.stopped_round is not None

    def accumulate(self, logs: dict[str, Any]) -> None:
        """Sum the step logs of monitored ``train/`` metrics (tensors: no device sync per step)."""
        for k in self.train_keys & logs.keys():
            v = logs[k]
            v = v.detach().float() if isinstance(v, torch.Tensor) else torch.tensor(float(v))
            self.sums[k] = self.sums[k] + v if k in self.sums else v
            self.counts[k] = self.counts.get(k, 0) + 1

    def round_means(self, reduce: Any = None) -> dict[str, float]:
        """The round's mean of each monitored ``train/`` metric (all processes' mean with ``reduce``)."""
        means = {k: v / self.counts[k] for k, v in self.sums.items()}
        if reduce is not None and means:
            means = reduce(means)
        self.sums, self.counts = {}, {}
        return {k: float(v) for k, v in means.items()}

    def check(self, round_idx: int, metrics: dict[str, float], model: torch.nn.Module) -> None:
        """Update keep-best and early stopping with this round's metrics (train means and/or val)."""
        keep = self.keep_watch
        if keep is not None and keep.ready(metrics) and all(keep.improved(metrics)):
            self.kept_round = round_idx
            self.kept_reason = f"every monitored metric at its best so far: {keep.describe(metrics)}"
            self.kept_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if self.early_watch is not None and self.early_watch.ready(metrics):
            if any(self.early_watch.improved(metrics)):
                self.bad_checks = 0
            else:
                self.bad_checks += 1
            if self.bad_checks >= self.early.patience:
                self.stopped_round = round_idx
                self.stop_reason = (
                    f"no improvement of {', '.join(self.early.monitor)} in {self.early.patience} checks "
                    f"(best {', '.join(f'{b:.6g}' for b in self.early_watch.best if b is not None)})"
                )

    def missing(self, metrics: dict[str, float], *, split: str) -> list[str]:
        """Monitored metrics of ``split`` that an evaluation of it did not report."""
        keys = self.val_keys if split == "val" else self.train_keys
        return sorted(k for k in keys if k not in metrics)

    def restore(self, model: torch.nn.Module) -> None:
        """Load the kept weights into ``model`` (before the final test evaluation and the saved weights)."""
        if self.kept_weights is not None:
            model.load_state_dict(self.kept_weights)

    def summary(self, *, last_round: int) -> dict[str, Any]:
        """eval.json's ``selection``: which round's weights were tested and saved, and why."""
        out: dict[str, Any] = {"last_round": last_round}
        if self.early is not None:
            out["stopped_early"] = self.stopped
            out["stop_reason"] = self.stop_reason or f"ran every round (patience {self.early.patience} not exhausted)"
        if self.keep is not None:
            if self.kept_round is None:
                out.update(kept_round=last_round, kept_reason="no check of the monitored metrics ran: the last round")
            else:
                out.update(kept_round=self.kept_round, kept_reason=self.kept_reason)
        else:
            out.update(kept_round=last_round, kept_reason="the last round (no train.keep_best)")
        return out

    # -- checkpoint -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "early_best": list(self.early_watch.best) if self.early_watch else [],
            "keep_best": list(self.keep_watch.best) if self.keep_watch else [],
            "bad_checks": self.bad_checks,
            "stopped_round": self.stopped_round,
            "stop_reason": self.stop_reason,
            "kept_round": self.kept_round,
            "kept_reason": self.kept_reason,
            "kept_weights": self.kept_weights or {},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.early_watch and state.get("early_best"):
            self.early_watch.best = list(state["early_best"])
        if self.keep_watch and state.get("keep_best"):
            self.keep_watch.best = list(state["keep_best"])
        self.bad_checks = int(state.get("bad_checks", 0))
        self.stopped_round = state.get("stopped_round")
        self.stop_reason = state.get("stop_reason", "")
        self.kept_round = state.get("kept_round")
        self.kept_reason = state.get("kept_reason", "")
        self.kept_weights = state.get("kept_weights") or None


__all__ = ["Selection"]
