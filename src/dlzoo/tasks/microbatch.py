"""Micro-batch threads: one step's batch as n equal parts in n Python threads (CPU, opt-in).

A CPU execution setting, not part of what a step computes (``task.microbatch_threads``, default 1:
off). With n > 1 the process runs with one torch thread, and each of n Python threads runs the
forward and backward pass of one part: on small models this beats n torch threads, whose OpenMP
team forks and joins inside each of ~1000 small ops per step (the transformer family's README has
the measurements). Each part's loss is scaled by 1/n and autograd accumulates every part's gradient
into the same ``.grad`` under its lock, so the optimizer sees the full batch's mean gradient.

Reproducibility: for n = 2 the float sum of the two parts does not depend on which finishes first,
so runs are bit-for-bit reproducible; for n > 2 the order of the additions (the last bits) may vary.
Refused with a message that names the fix: several processes or a GPU (use DDP instead), a batch not
divisible by n, and dropout (the threads would draw masks from the one global generator in a
varying order).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from torch import nn

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Microbatches:
    """Runs a step's forward/backward and an evaluation's chunks over ``n`` threads (inline when n = 1)."""

    def __init__(self, n: int, *, model: nn.Module, batch: int, world_size: int, device: torch.device) -> None:
        self.n, self.pool = n, None
        if n == 1:
            return
        if world_size > 1 or device.type != "cpu":
            raise ValueError(
                f"task.microbatch_threads={n} splits a step over CPU threads of one process; this run "
                f"has {world_size} process(es) on {device.type}: set it to 1"
            )
        if batch % n:
            raise ValueError(f"train.batch_size ({batch}) must be divisible by task.microbatch_threads ({n})")
        if any(
            (isinstance(m, nn.Dropout) and m.p > 0) or (isinstance(m, nn.RNNBase) and m.dropout > 0)
            for m in model.modules()
        ):
            raise ValueError(
                f"task.microbatch_threads={n} with dropout: the threads would draw their masks from the "
                "one global generator in a varying order, and the run could not be reproduced or "
                "resumed exactly; set model.dropout=0 or task.microbatch_threads=1"
            )
        torch.set_num_threads(1)  # the threads are the parallelism: no OpenMP team inside each op
        self.pool = ThreadPoolExecutor(n, thread_name_prefix="dlzoo-microbatch")

    def backward(
        self, loss: Loss, x: torch.Tensor, y: torch.Tensor, *, backward: Callable[[Any], None]
    ) -> torch.Tensor:
        """loss(x, y) and its gradient in the parameters' .grad (through ``backward``); -> the loss, detached."""

        def part(xy: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            value = loss(*xy) / self.n if self.n > 1 else loss(*xy)
            backward(value)
            return value.detach()

        if self.pool is None:
            return part((x, y))
        return torch.stack(list(self.pool.map(part, zip(x.chunk(self.n), y.chunk(self.n), strict=True)))).sum()

    def chunk_size(self, total: int, *, at_most: int) -> int:
        """Evaluation chunks: at most ``at_most`` rows each, and at least one chunk per thread."""
        return min(at_most, math.ceil(total / self.n))

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor], chunks: Iterable[torch.Tensor]) -> list[torch.Tensor]:
        """fn over the chunks, in the threads; the results in the chunks' order."""
        return list(self.pool.map(fn, chunks) if self.pool is not None else map(fn, chunks))
