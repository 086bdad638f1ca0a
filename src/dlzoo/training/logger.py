"""metrics.jsonl (+ optional TensorBoard) and the rich progress bar."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Any
from collections.abc import Iterator

import torch

from dlzoo.extras import require
from dlzoo.runs import RunDir, disk_error


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
        try:
            with open(self.run.metrics_path, "a") as f:
                f.write(json.dumps(row) + "\n")
        except OSError as e:
            raise disk_error(self.run.metrics_path, e) or e from None
        if self.tb is not None:
            for k, v in row.items():
                if "/" in k:
                    self.tb.add_scalar(k, v, row.get("step", 0))

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


class _Bar:
    """Progress of a run on stderr: a rich bar on a terminal, one plain line per evaluation otherwise."""

    def __init__(
        self, *, title: str, total: int, done: int, progress: Any = None, plain: bool = False, bar_width: int = 0
    ) -> None:
        self.title, self.total, self.done, self.bar_width = title, total, done, bar_width
        self.progress, self.plain = progress, plain
        self.task_id = progress.add_task(title, total=total, completed=done, info="") if progress else None
        self.start, self.metrics = time.perf_counter(), None
        if plain:
            self._line(f"{total - done} round(s) to go" if done else f"{total} round(s)")

    def advance(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress.advance(self.task_id)
        elif self.plain and self.metrics is not None:  # an evaluation in this round: one line
            self._line(f"round {self.done}/{self.total}  {_metrics_text(self.metrics)}".rstrip())
        self.metrics = None

    def describe(self, metrics: dict[str, float]) -> None:
        """The round's validation metrics (empty when the task has none): shown after the bar, or one line."""
        self.metrics = metrics
        if self.progress is not None and metrics:
            # what is left of the terminal's width after name, bar, count and time (resizes included)
            used = len(self.title) + self.bar_width + 2 * len(str(self.total)) + 1 + 7 + 4
            room = self.progress.console.width - used - 1
            text = _metrics_text(metrics)
            self.progress.update(self.task_id, info=text if len(text) <= room else text[: max(0, room - 1)] + "…")

    def _line(self, text: str) -> None:
        elapsed = time.strftime("%H:%M:%S", time.gmtime(time.perf_counter() - self.start))
        print(f"{self.title} {elapsed} {text}", file=sys.stderr, flush=True)


def _metrics_text(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:.4g}" for k, v in list(metrics.items())[:3])


@contextlib.contextmanager
def progress_bar(*, enabled: bool, total: int, done: int, title: str) -> Iterator[_Bar]:
    """A bar when stderr is a terminal (fits its width, 80 columns included), plain lines when it is not."""
    if not enabled or not sys.stderr.isatty():
        yield _Bar(title=title, total=total, done=done, plain=enabled)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Column

    console = Console(stderr=True)
    # name, bar, count and time keep their width; the metrics are cut to what is left (_Bar.describe)
    bar_width = max(10, min(30, console.width - len(title) - 50))
    columns = (
        TextColumn("[bold]{task.description}", table_column=Column(no_wrap=True)),
        BarColumn(bar_width=bar_width),
        MofNCompleteColumn(table_column=Column(no_wrap=True)),
        TimeElapsedColumn(table_column=Column(no_wrap=True)),
        TextColumn("{task.fields[info]}", table_column=Column(no_wrap=True)),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield _Bar(title=title, total=total, done=done, progress=progress, bar_width=bar_width)
