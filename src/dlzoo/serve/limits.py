"""Bounded cost per request: a compute budget, a per-model concurrency limit with a bounded queue, and
streams that stop generating when their client goes away.

    request ──> budget (422 above it) ──> Gate: a free slot?  yes ──> inference ──> release
                                              no: wait in the queue (503 + Retry-After when
                                                  the queue is full or the wait times out)

Budget units: a language model's ``/sample`` costs ``n x max_new_tokens`` tokens (``max_tokens``); a tensor
sampler's ``/sample`` costs ``n x steps`` (``max_sample_steps``; ``steps`` is the pipeline's
``sample_steps``, 1 for a one-pass generator such as a GAN or a VAE decoder). Inputs verbs are bounded by
the body size and ``MAX_BATCH`` already.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio

from dlzoo.inference import InputError


class Busy(Exception):
    """No slot for this request: answered 503 with ``Retry-After: retry_after`` seconds."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.detail, self.retry_after = detail, retry_after


class Gate:
    """At most ``concurrency`` requests of one model answered at once; at most ``queue`` more waiting,
    each for at most ``timeout_s``. A request past either limit gets :class:`Busy` (503)."""

    def __init__(self, *, name: str, concurrency: int, queue: int, timeout_s: float) -> None:
        self.name, self.concurrency, self.queue, self.timeout_s = name, concurrency, queue, timeout_s
        self.active = 0  # requests holding a slot
        self.waiting = 0  # requests in the queue
        self._slots: anyio.Semaphore | None = None  # made on first use, inside the server's event loop

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.timeout_s / 2))

    async def acquire(self) -> None:
        if self._slots is None:
            self._slots = anyio.Semaphore(self.concurrency)
        if self._slots.value > 0 and not self.waiting:  # a free slot and nobody before us: no timer needed
            self._slots.acquire_nowait()
            self.active += 1
            return
        if self.waiting >= self.queue:
            raise Busy(
                f"{self.name} is busy: {self.active} requests running and {self.waiting} waiting (the most the "
                f"server queues per model, --max-queue); retry in {self.retry_after} s",
                retry_after=self.retry_after,
            )
        self.waiting += 1
        try:
            with anyio.fail_after(self.timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            raise Busy(
                f"{self.name} is busy: no free slot within {self.timeout_s:g} s (--queue-timeout-s; "
                f"{self.concurrency} requests at a time, --max-concurrency); retry in {self.retry_after} s",
                retry_after=self.retry_after,
            ) from None
        finally:
            self.waiting -= 1
        self.active += 1

    def release(self) -> None:
        self.active -= 1
        if self._slots is not None:
            self._slots.release()


def once(release: Callable[[], None]) -> Callable[[], None]:
    """``release`` made idempotent: a slot given back twice would let one more request in."""
    done = False

    def release_once() -> None:
        nonlocal done
        if not done:
            done = True
            release()

    return release_once


def check_budget(*, what: str, cost: int, budget: int, option: str, advice: str) -> None:
    """422 (InputError) when a request's compute ``cost`` is over the server's ``budget``."""
    if cost > budget:
        raise InputError(f"{what} = {cost} is over this server's budget of {budget} per request ({option}); {advice}")


def request_cost(body: Any, *, sample_steps: int = 1) -> tuple[str, int] | None:
    """(what, cost) of a sample request: ``n x max_new_tokens`` for text, ``n x steps`` for tensors."""
    n = getattr(body, "n", None)
    if not isinstance(n, int):
        return None
    tokens = getattr(body, "max_new_tokens", None)
    if isinstance(tokens, int):
        return "n x max_new_tokens", n * tokens
    steps = getattr(body, "steps", None)  # a diffusion request names its own step count
    if isinstance(steps, int) and not isinstance(steps, bool):
        return "n x steps", n * steps
    return f"n x sampler steps ({sample_steps})", n * sample_steps


async def stream_lines(lines: Iterator[str], *, release: Callable[[], None]) -> AsyncIterator[str]:
    """Send a blocking iterator's lines from worker threads, one ``next`` at a time. When the client goes
    away the server cancels this generator: the iterator is closed, so generation stops after the current
    token (its ``finally`` blocks run), and the model's slot is released."""
    try:
        while True:
            line = await anyio.to_thread.run_sync(next, lines, None)
            if line is None:
                return
            yield line
    finally:
        close = getattr(lines, "close", None)
        if close is not None:
            close()
        release()
