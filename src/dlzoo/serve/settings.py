"""The server's settings: one frozen dataclass, the options of ``dlzoo serve`` and of ``create_app``.

``dlzoo serve --workers N`` starts N processes, each of which builds its own app: the settings travel to
them as JSON in the environment variable ``DLZOO_SERVE_SETTINGS`` and ``app_from_env`` (importable as
the string ``"dlzoo.serve.settings:app_from_env"``, which uvicorn needs for several workers) rebuilds
the app from it. The API key never travels there: it is read from ``DLZOO_API_KEY`` in each worker.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

MiB = 2**20
RUNTIMES = ("pytorch", "onnx", "fastest")  # what answers predict (see serve/onnx_runs.py: export_of)
ENV = "DLZOO_SERVE_SETTINGS"
KEY_ENV = "DLZOO_API_KEY"


@dataclass(frozen=True)
class ServeSettings:
    """Every limit of the server, with its default (``dlzoo serve --help`` shows the same)."""

    runs: str = "runs"  # folder of run directories to serve
    max_body_bytes: int = 8 * MiB  # largest request body; larger ones get 413 (checked while reading)
    body_timeout_s: float = 10.0  # a body not received in full within this time gets 408
    max_batch: int = 256  # examples per forward pass when concurrent requests are batched (1 = off)
    max_wait_ms: float = 0.0  # extra wait for a batch to fill (0 = adaptive: what queued during the last pass)
    max_concurrency: int = 32  # requests per model being answered at once (batched ones count one each)
    max_queue: int = 128  # requests per model waiting for a slot; more get 503 + Retry-After
    queue_timeout_s: float = 10.0  # a request waiting longer for a slot gets 503 + Retry-After
    max_tokens: int = 8192  # language models: n x max_new_tokens per request; more get 422
    max_sample_steps: int = 4096  # tensor samplers: n x the sampler's steps per request; more get 422
    runtime: str = "pytorch"  # predict of plain tensor runs: pytorch, onnx (their export/model.onnx), fastest
    api_key: str | None = None  # when set, every endpoint but /healthz needs Authorization: Bearer <key>

    def __post_init__(self) -> None:
        positive = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("runs", "api_key", "max_wait_ms", "runtime")
        }
        bad = [f"{k}={v}" for k, v in positive.items() if not v > 0]
        if bad or self.max_wait_ms < 0:
            raise ValueError(
                f"server settings must be positive (max_wait_ms >= 0), got {', '.join(bad) or self.max_wait_ms}"
            )
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("an empty API key would let anyone in: give a non-empty --api-key or DLZOO_API_KEY")

    def to_env(self) -> str:
        """JSON of the settings without the key (the key is read from DLZOO_API_KEY by each worker)."""
        return json.dumps({k: v for k, v in asdict(self).items() if k != "api_key"})

    @classmethod
    def from_env(cls) -> ServeSettings:
        raw: dict[str, Any] = json.loads(os.environ.get(ENV, "{}"))
        return cls(**raw, api_key=os.environ.get(KEY_ENV) or None)


def app_from_env() -> Any:
    """The app a uvicorn worker builds (``uvicorn.run("dlzoo.serve.settings:app_from_env", factory=True)``)."""
    from dlzoo.serve.app import create_app

    return create_app(settings=ServeSettings.from_env())
