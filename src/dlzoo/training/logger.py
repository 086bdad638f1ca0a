"""metrics.jsonl (+ optional TensorBoard) and the rich progress bar."""

from __future__ import annotations

import contextlib
import json
from typing import Any
from collections.abc import Iterator

import torch

from dlzoo.extras import require
from dlzoo.runs import RunDir


class MetricsLogger:
    """Averages step logs over a window and appends one JSON line per flush.

    Values may be 0-dim tensors: they are summed as tensors and turned into floats only at flush,
    so logging costs no device synchronisation per step. With ``reduce`` (``fabric.all_reduce``)
    every process must flush at the same steps, which the loop guarantees.
    """

    def __init__(self, run: RunDir, *, enabled: bool, tensorboard: bool = False, reduce: Any = None) -> None:
        self.run, self.enabled, self.reduce = run, enabled, reduce
        self.sums: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        self.tb = None
        if enabled:
            run.path.mkdir(parents=True, exist_ok=True)
            if tensorboard:
                require("tensorboard", extra="tensorboard", feature="train.tensorboard=true")
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run.path / "tensorboard"))

    def accumulate(self, logs: dict[str, Any]) -> None:
        for k, v in logs.items():
            self.sums[k] = self.sums[k] + v if k in self.sums else v
            self.counts[k] = self.counts.get(k, 0) + 1

    def flush(self, **fields: Any) -> dict[str, float]:
        """Write the window's means (plus ``fields``) and return them as floats ({} when nothing was logged).

        Every process returns the same values under DDP (they are all-reduced), so a check on them
        (the loop's divergence check) takes the same branch on every rank.
        """
        if not self.sums:
            return {}
        row = {k: v / self.counts[k] for k, v in self.sums.items()}
        if self.reduce is not None:  # DDP: log the mean over processes, i.e. over the global batch
            row = self.reduce(row)
        row = {k: float(v) for k, v in row.items()}  # one device sync per window, not per step
        self.sums, self.counts = {}, {}
        self.write({**row, **fields})
        return row

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        row = {k: (float(v) if isinstance(v, torch.Tensor) else v) for k, v in row.items()}
        with open(self.run.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.tb is not None:
            for k, v in row.items():
                if "/" in k:
                    self.tb.add_scalar(k, v, row.get("step", 0))

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


class _Bar:
    def __init__(self, progress: Any, task_id: Any) -> None:
        self.progress, self.task_id = progress, task_id

    def advance(self) -> None:
        if self.progress is not None:
            self.progress.advance(self.task_id)

    def describe(self, metrics: dict[str, float]) -> None:
        if self.progress is not None:
            text = "  ".join(f"{k}={v:.4g}" for k, v in list(metrics.items())[:3])
            self.progress.update(self.task_id, info=text)


@contextlib.contextmanager
def progress_bar(*, enabled: bool, total: int, done: int, title: str) -> Iterator[_Bar]:
    if not enabled:
        yield _Bar(None, None)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Progress(*columns, transient=False) as progress:
        task_id = progress.add_task(title, total=total, completed=done, info="")
        yield _Bar(progress, task_id)
