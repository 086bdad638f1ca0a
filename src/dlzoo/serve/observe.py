"""Request ids, access log lines and Prometheus metrics (``GET /metrics``).

Every request gets an id: the client's ``X-Request-ID`` when it sends a plausible one (1-128 characters of
letters, digits, ``._-``), else a fresh one. It is sent back as ``X-Request-ID``, written in every error
body (``"request_id"``) and in every log line of ``dlzoo.serve`` made while answering the request (a
logging filter reads it from a context variable, which worker threads inherit).

Metrics (prometheus-client, in the ``[serve]`` extra; without it ``/metrics`` answers 501 naming the extra):

    dlzoo_requests_total{model,verb,status}        requests answered
    dlzoo_request_seconds{model,verb}              latency histogram (time to the response's start)
    dlzoo_batch_requests{model,verb}               requests per forward pass (micro-batching)
    dlzoo_queue_depth{model}                       requests waiting for a slot of the model, now
    dlzoo_active_requests{model}                   requests holding a slot of the model, now

``model`` is the served ``<model>@<run>`` (``-`` for paths that name no served model, so a client cannot
create label values at will) and ``verb`` the last path segment of ``/v1/models/{name}/{verb}``.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("dlzoo_request_id", default="-")
_PLAUSIBLE = re.compile(r"[A-Za-z0-9._-]{1,128}")
# fresh ids: a random prefix per process and a counter (uuid4 reads os.urandom per request, slow on some hosts)
_PREFIX, _COUNTER = os.urandom(8).hex(), itertools.count(1)
log = logging.getLogger("dlzoo.serve")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record as ``record.request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class Metrics:
    """The app's Prometheus collectors, in a registry of its own (several apps in one process never clash)."""

    def __init__(self, *, gates: Callable[[], dict[str, Any]]) -> None:
        import prometheus_client as prom
        from prometheus_client.core import GaugeMetricFamily

        self.prom = prom
        self.registry = prom.CollectorRegistry()
        self.requests = prom.Counter(
            "dlzoo_requests", "requests answered", ["model", "verb", "status"], registry=self.registry
        )
        self.latency = prom.Histogram(
            "dlzoo_request_seconds",
            "time from the request to the start of its response",
            ["model", "verb"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.batch = prom.Histogram(
            "dlzoo_batch_requests",
            "requests per forward pass",
            ["model", "verb"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )

        class Queues:
            def collect(self) -> Iterator[Any]:
                depth = GaugeMetricFamily("dlzoo_queue_depth", "requests waiting for a slot", labels=["model"])
                active = GaugeMetricFamily("dlzoo_active_requests", "requests holding a slot", labels=["model"])
                for name, gate in gates().items():
                    depth.add_metric([name], gate.waiting)
                    active.add_metric([name], gate.active)
                yield depth
                yield active

        self.registry.register(Queues())

    def observe_batch(self, model: str, verb: str, requests: int) -> None:
        self.batch.labels(model, verb).observe(requests)

    def render(self) -> tuple[bytes, str]:
        return self.prom.generate_latest(self.registry), self.prom.CONTENT_TYPE_LATEST


class Observe:
    """ASGI middleware: the request id (in and out), one access log line per request, and its metrics."""

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        *,
        metrics: Metrics | None,
        labels: Callable[[str], tuple[str, str]],
    ) -> None:
        self.app, self.metrics, self.labels = app, metrics, labels

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        sent = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = sent if _PLAUSIBLE.fullmatch(sent) else f"{_PREFIX}-{next(_COUNTER):08x}"
        token = request_id.set(rid)
        start, status = time.perf_counter(), 0

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
                self._record(scope, status, time.perf_counter() - start)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)

    def _record(self, scope: dict[str, Any], status: int, seconds: float) -> None:
        path = scope["path"]
        log.info("%s %s %d %.1f ms", scope["method"], path, status, seconds * 1000)
        if self.metrics is not None and path != "/metrics":
            model, verb = self.labels(path)
            self.metrics.requests.labels(model, verb, str(status)).inc()
            self.metrics.latency.labels(model, verb).observe(seconds)
