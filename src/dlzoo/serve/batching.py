"""Adaptive micro-batching: concurrent requests to one model share one forward pass.

    request 1 ──┐                        ┌── its rows of the output
    request 2 ──┼─ queue ─ worker thread ┼── its rows
    request 3 ──┘   (cat, one forward pass, split)

Each (model, verb) gets a queue and one worker thread. A request's inputs are validated when it is
submitted (on the event loop, which has just parsed them; a bad request fails alone, with
``InputError``, and never reaches the queue). The worker takes the first waiting request, then every
request already queued, up to ``max_batch`` examples (waiting up to ``max_wait_ms`` for more when that
is above 0), joins them into one tensor, runs the model once and hands every request back its own rows. A
request larger than ``max_batch`` runs alone, never split.

With ``max_wait_ms=0`` (the default) batching is adaptive: a request that finds the worker idle runs at
once, alone (no added latency at low load), and the requests that arrive while a forward pass runs
are taken together by the next one (the batch grows with the load). ``max_batch=1`` turns batching off.

The event loop only enqueues and awaits an ``asyncio`` future, which the worker resolves with
``loop.call_soon_threadsafe``: inference never blocks the server, and the queue works whatever event
loop (uvicorn's, a test client's) the request came from. Batched results equal sequential ones up to
float rounding: a matrix product over 8 rows may round differently from one over 1 row (~1e-7 relative).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

import torch

from dlzoo.serve.rows import Rows, join
from dlzoo.validation import NonFiniteOutput, nonfinite_error

# raw JSON inputs -> validated (B, *input_shape), as a tensor or as Rows (float32 values, no torch call on
# the event loop: rows.py says why); raises InputError
Prepare = Callable[[Any], "torch.Tensor | Rows"]
Run = Callable[[torch.Tensor], dict[str, list[Any]]]  # batch -> per-example lists, each of length B


@dataclass(frozen=True)
class BatchConfig:
    max_batch: int = 256  # examples per forward pass (a single larger request still runs, alone)
    max_wait_ms: float = 0.0  # extra wait for others to join the first request (0: adaptive, what is queued)

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.max_wait_ms < 0:
            raise ValueError(f"max_batch must be >= 1 and max_wait_ms >= 0, got {self.max_batch}, {self.max_wait_ms}")


@dataclass
class _Job:
    data: Any
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    x: torch.Tensor | Rows | None = None  # validated inputs


@dataclass
class BatchStats:
    batches: int = 0  # forward passes run
    requests: int = 0  # requests answered by them
    examples: int = 0  # examples in them
    largest: int = 0  # most requests in one forward pass
    sizes: list[int] = field(default_factory=list)  # requests per forward pass, the last 100


_STOP = object()


class MicroBatcher:
    def __init__(self, *, prepare: Prepare, run: Run, config: BatchConfig, name: str = "") -> None:
        self.prepare, self.run, self.config, self.name = prepare, run, config, name
        self.stats = BatchStats()
        self.on_batch: Callable[[int], None] | None = None  # called with the requests of each forward pass
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._carry: _Job | None = None  # a validated job that did not fit the last batch
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def submit(self, data: Any) -> dict[str, list[Any]]:
        """Queue one request's inputs; resolves to its own rows of the batched outputs."""
        loop = asyncio.get_running_loop()
        # validated here, on the event loop (which has just parsed the same numbers from JSON): the worker
        # thread then only concatenates, runs the model and splits, so it holds the GIL as little as possible
        job = _Job(None, loop, loop.create_future(), x=self.prepare(data))
        self._start()
        self._queue.put(job)
        return await job.future

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=5)

    # -- worker thread ----------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=f"dlzoo-batch-{self.name}", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            first = self._carry or self._queue.get()
            self._carry = None
            if first is _STOP:
                return
            jobs, stop = self._collect(first)
            if jobs:
                self._run(jobs)
            if stop:
                if self._carry is not None:
                    _resolve(self._carry, error=RuntimeError("the server is shutting down"))
                return

    def _collect(self, job: _Job) -> tuple[list[_Job], bool]:
        """Validated jobs for one forward pass, and whether a stop request arrived meanwhile."""
        jobs: list[_Job] = []
        size = 0
        deadline = time.monotonic() + self.config.max_wait_ms / 1000
        while True:
            if job.x is not None or self._validate(job):
                if jobs and size + len(job.x) > self.config.max_batch:
                    self._carry = job  # starts the next batch
                    return jobs, False
                jobs.append(job)
                size += len(job.x)
            if size >= self.config.max_batch:
                return jobs, False
            try:
                timeout = deadline - time.monotonic()
                job = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                return jobs, False
            if job is _STOP:
                return jobs, True

    def _validate(self, job: _Job) -> bool:
        try:
            job.x = self.prepare(job.data)
            job.data = None
            return True
        except Exception as e:  # InputError: only this request fails
            _resolve(job, error=e)
            return False

    def _run(self, jobs: list[_Job]) -> None:
        try:
            out = self.run(join([j.x for j in jobs]))
        except NonFiniteOutput as e:  # some examples overflow the model: their requests fail, the others run again
            bad, good, start = set(e.rows), [], 0
            for j in jobs:
                mine = [r - start for r in range(start, start + len(j.x)) if r in bad]
                start += len(j.x)
                if mine:
                    x = j.x.tensor() if isinstance(j.x, Rows) else j.x
                    _resolve(j, error=nonfinite_error(x, mine) if len(jobs) > 1 else e)
                else:
                    good.append(j)
            if good:
                self._run(good)
            return
        except Exception as e:
            for j in jobs:
                _resolve(j, error=e)
            return
        start, answers = 0, []
        for j in jobs:
            stop = start + len(j.x)
            answers.append((j, {k: v[start:stop] for k, v in out.items()}))
            start = stop
        _resolve_all(answers)
        s = self.stats
        s.batches, s.requests, s.examples = s.batches + 1, s.requests + len(jobs), s.examples + start
        s.largest = max(s.largest, len(jobs))
        s.sizes = (s.sizes + [len(jobs)])[-100:]
        if self.on_batch is not None:
            self.on_batch(len(jobs))


def _resolve_all(answers: list[tuple[_Job, Any]]) -> None:
    """Complete the futures of one forward pass with one wake-up of each event loop (not one per request:
    each ``call_soon_threadsafe`` writes to the loop's self-pipe, a system call that hands the GIL over)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Any]]] = {}
    for job, result in answers:
        by_loop.setdefault(job.loop, []).append((job, result))

    def done(items: list[tuple[_Job, Any]]) -> None:
        for job, result in items:
            if not job.future.done():
                job.future.set_result(result)

    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # event loop closed
            loop.call_soon_threadsafe(done, items)


def _resolve(job: _Job, *, result: Any = None, error: BaseException | None = None) -> None:
    """Complete a job's future from the worker thread (the client may be gone, and its loop too)."""

    def done() -> None:
        if not job.future.done():
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)

    with contextlib.suppress(RuntimeError):  # event loop closed
        job.loop.call_soon_threadsafe(done)
