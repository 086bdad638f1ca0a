"""The HTTP API over a folder of runs: ``create_app("runs/")`` -> FastAPI app.

Names. Every finished run under the folder is served under ``<model>@<run>`` (registry name @ run
directory name, e.g. ``mlp_classifier@20250101-120000``), and ``<model>`` alone resolves to the
latest run of that model (newest model.safetensors). ``GET /v1/models`` lists each run under its
shortest unambiguous name and all its aliases. A folder with a ``serving.yaml`` beside an ONNX file is
served too, by onnxruntime without PyTorch, under ``<name>@<folder>`` (see onnx_runs.py).

    GET  /healthz                          liveness + number of models (open even with an API key)
    GET  /metrics                          Prometheus metrics (observe.py)
    GET  /                                 the playground page (playground.html; open, its API calls need the key)
    GET  /v1/models                        models (+ runs that failed to load, under "skipped"), and a version
    POST /v1/reload                        scan the folder again: serve runs trained since the start
    GET  /v1/models/{name}                 one model: family, task, input_shape, metrics, verbs
    GET  /v1/models/{name}/card            its card.md, its info and the list of its plots
    GET  /v1/models/{name}/plots/{plot}    one PNG of the run's plots/ (only names the card lists)
    POST /v1/models/{name}/predict         classify | regress   {"inputs": [...]} -> labels/probabilities | predictions
    POST /v1/models/{name}/sample          generate             {"n": 16, "seed": 0} -> samples
    POST /v1/models/{name}/reconstruct     generate             {"inputs": [...]} -> reconstructions
    POST /v1/models/{name}/act             control              {"inputs": observations} -> actions
    POST /v1/models/{name}/{verb}          a family's own body  (pipeline.requests[verb]: graphs, prompts,
                                                                 strings) -> JSON, or JSON lines when streamed

Errors are JSON ``{"detail": "...", "request_id": "..."}`` saying what was expected: 404 unknown model
(lists the names), 400 a verb the model does not serve (lists its verbs), 401 a missing or wrong API
key (security.py), 408 a body not received within ``body_timeout_s``, 413 a body over
``max_body_bytes`` (checked on Content-Length and on the bytes actually received), 503 + Retry-After
when the model's slots and queue are full (limits.py), 422 anything else about the input (not JSON,
NaN/Infinity literals, strings or booleans, wrong shape, empty or too large a batch, a request over
the compute budget). Settings: settings.py; what the limits cost and measure: README.md here.
Inference runs in worker threads (see batching.py), so the event loop keeps answering meanwhile.
At start (and on each reload) the server logs one line per served run (``<model>@<run>``, its names,
its verbs) and one per skipped run with the reason.
This module imports the registry, runs and inference, never ``dlzoo.training``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import torch
from fastapi import BackgroundTasks, Body, Depends, FastAPI, Request
from fastapi import Path as FastAPIPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from dlzoo import __version__, inference
from dlzoo.inference import InputError
from dlzoo.registry import ModelSpec, choices_error
from dlzoo.runs import LoadedRun, RunDir, RunError, find_runs, load_run
from dlzoo.serve import onnx_runs
from dlzoo.serve.rows import prepare as prepare_rows
from dlzoo.serve.batching import BatchConfig, MicroBatcher
from dlzoo.serve.messages import describe_validation, expected_body, nonfinite_literal
from dlzoo.serve.limits import Busy, Gate, check_budget, once, request_cost, stream_lines
from dlzoo.serve.observe import Metrics, Observe, RequestIdFilter, request_id
from dlzoo.serve.security import ApiKey
from dlzoo.serve.settings import ServeSettings
from dlzoo.serve.schemas import (
    ActResponse,
    CardResponse,
    ErrorResponse,
    Health,
    InputsRequest,
    ModelInfo,
    ModelList,
    PlotInfo,
    PredictResponse,
    ReconstructResponse,
    ReloadResponse,
    SampleRequest,
    SampleResponse,
    SkippedRun,
    TextSampleResponse,
)

log = logging.getLogger("dlzoo.serve")
MiB = 2**20
PLAYGROUND = Path(__file__).with_name("playground.html")
ERRORS: dict[int | str, dict[str, Any]] = {c: {"model": ErrorResponse} for c in (400, 401, 404, 408, 413, 422, 503)}
PLOT_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.png$"  # a plot's file name: no separators, no leading dot


class APIError(Exception):
    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"detail": ..., "request_id": ...}``: every error body names the request it answers."""
    return JSONResponse({"detail": detail, "request_id": request_id.get()}, status_code=status, headers=headers)


def verbs_for(spec: ModelSpec) -> tuple[str, ...]:
    """The POST verbs a model serves: ``predict`` for classify/regress models, then its pipeline's tensor
    verbs (``pipeline.verbs``) and the verbs it answers with request bodies of its own (``pipeline.requests``)."""
    base = ("predict",) if spec.task in ("classify", "regress") else ()
    return tuple(dict.fromkeys((*base, *spec.pipeline.verbs, *inference.requests_of(spec))))


# -- the served models --------------------------------------------------------------------------


@dataclass
class Served:
    """One loaded run, its names and its batchers (one per input verb)."""

    name: str  # canonical: <model>@<run>
    loaded: LoadedRun | onnx_runs.OnnxRun  # an OnnxRun: a folder with serving.yaml, run by onnxruntime
    verbs: tuple[str, ...]
    metrics: dict[str, float | None]
    mtime: float
    info: ModelInfo | None = None
    batchers: dict[str, MicroBatcher] = field(default_factory=dict)

    def batcher(self, verb: str, config: BatchConfig, on_batch: Callable[[int], None] | None = None) -> MicroBatcher:
        if verb not in self.batchers and isinstance(self.loaded, onnx_runs.OnnxRun):
            self.batchers[verb] = self.loaded.batcher(config, name=f"{self.name}/{verb}")
        if verb not in self.batchers:
            loaded = self.loaded
            run = {
                "predict": lambda x: inference.predict(loaded, x),
                "reconstruct": lambda x: {"reconstructions": inference.reconstruct(loaded, x).tolist()},
                "act": lambda x: {"actions": inference.act(loaded, x)},
            }[verb]
            self.batchers[verb] = MicroBatcher(
                prepare=partial(prepare_rows, loaded), run=run, config=config, name=f"{self.name}/{verb}"
            )
        self.batchers[verb].on_batch = on_batch
        return self.batchers[verb]

    def close(self) -> None:
        for b in self.batchers.values():
            b.close()


class ModelTable:
    """Every finished run under ``root``, loaded once; broken ones are listed, never fatal.

    ``reload()`` scans the folder again: runs trained since are loaded, runs whose weights changed are
    reloaded, runs that are gone stop being served; the others keep their loaded model. ``version``
    goes up by one each time a scan changes what is served (added, reloaded, removed) or skipped.
    """

    def __init__(self, root: Path | str, *, batching: BatchConfig, runtime: str = "pytorch") -> None:
        self.root = Path(root)
        self.runtime = runtime  # pytorch | onnx | fastest: who answers predict where a run has an ONNX export
        if not self.root.is_dir():
            raise RunError(f"{self.root}: no such folder (give the folder that holds run directories, e.g. runs/)")
        self.batching = batching
        self.runs: dict[str, Served] = {}  # <model>@<run> -> served
        self.latest: dict[str, str] = {}  # <model> -> <model>@<run> of its newest run
        self.skipped: list[SkippedRun] = []
        self.version = 0
        self._lock = threading.Lock()  # one scan at a time
        self.reload()

    def reload(self) -> dict[str, Any]:
        """Scan the folder again and swap in what it holds; returns the version and what changed."""
        with self._lock:
            known = {s.loaded.run.path: s for s in self.runs.values()}
            runs, skipped = self._scan(known)
            latest = _assign_names(runs)
            added, removed = sorted(set(runs) - set(self.runs)), sorted(set(self.runs) - set(runs))
            reloaded = sorted(n for n in set(runs) & set(self.runs) if runs[n] is not self.runs[n])
            kept = {id(s) for s in runs.values()}
            gone = [s for s in self.runs.values() if id(s) not in kept]  # removed, or replaced by new weights
            was_skipped = [(s.path, s.error) for s in self.skipped]
            self.runs, self.latest, self.skipped = runs, latest, skipped
            if added or removed or reloaded or [(s.path, s.error) for s in skipped] != was_skipped:
                self.version += 1
            for s in gone:
                s.close()
            self._announce(added=added, removed=removed, reloaded=reloaded)
            return {
                "version": self.version,
                "added": added,
                "reloaded": reloaded,
                "removed": removed,
                "skipped": len(skipped),
            }

    def _scan(self, known: dict[Path, Served]) -> tuple[dict[str, Served], list[SkippedRun]]:
        runs: dict[str, Served] = {}
        skipped: list[SkippedRun] = []
        finished = list(find_runs(self.root))
        # (run folder, the file whose change means "load again", loader)
        loaders = [(run.path, run.weights_path, partial(self._load_one, run)) for run in finished]
        loaders += [
            (path, path / onnx_runs.SERVING_FILE, partial(self._load_onnx, path))
            for path in onnx_runs.find_onnx_runs(self.root)
        ]
        for path, stamp, load in loaders:
            try:
                served = known.get(path)
                if served is None or served.mtime != stamp.stat().st_mtime:
                    served = load()
            except Exception as e:  # any broken run: skip it, keep serving the others
                skipped.append(self._skip(path, f"{type(e).__name__}: {e}"))
                continue
            if served.name in runs:
                first = self._rel(runs[served.name].loaded.run.path)
                skipped.append(self._skip(path, f"duplicate name {served.name} (already served from {first})"))
                continue
            runs[served.name] = served
        done = {r.path for r in finished}
        for cfg in sorted(self.root.glob("**/config.yaml")):
            if cfg.parent not in done:
                skipped.append(self._skip(cfg.parent, "not finished: no model.safetensors yet"))
        return runs, skipped

    def _announce(self, *, added: list[str], removed: list[str], reloaded: list[str]) -> None:
        """Log lines: what is served (model@run, its names, its verbs), what was skipped and why."""
        for name in [*added, *reloaded]:
            s = self.runs[name]
            verbs = ", ".join(s.verbs) or "no inference verb"
            also = [a for a in (s.info.aliases if s.info else []) if a != name]
            again = " (new weights)" if name in reloaded else ""
            log.info("serving %s%s%s: %s", name, f" (also as {', '.join(also)})" if also else "", again, verbs)
        for name in removed:
            log.info("no longer serving %s (its run directory is gone or was replaced)", name)
        for skip in self.skipped:
            log.warning("skipped %s: %s", skip.path, skip.error)
        log.info(
            "version %d: serving %d run(s) from %s; skipped %d",
            self.version,
            len(self.runs),
            self.root,
            len(self.skipped),
        )

    def _load_one(self, run: RunDir) -> Served:
        loaded = load_run(run.path)
        try:
            raw = run.read_eval()
        except (RunError, ValueError) as e:
            log.warning("%s: no usable eval.json (%s); serving without metrics", run.path, e)
            raw = {}
        metrics = {
            k: (float(v) if v == v and abs(v) != float("inf") else None)
            for k, v in raw.items()
            if "/" in k and isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        return Served(
            name=f"{loaded.spec.name}@{run.path.name}",
            loaded=self._runtime(loaded),
            verbs=verbs_for(loaded.spec),
            metrics=metrics,
            mtime=run.weights_path.stat().st_mtime,
        )

    def _runtime(self, loaded: LoadedRun) -> LoadedRun | onnx_runs.OnnxRun:
        """The run itself, or an onnxruntime session on its export (--runtime onnx, or fastest when faster)."""
        file = onnx_runs.export_of(loaded) if self.runtime != "pytorch" else None
        if file is None:
            return loaded
        onnx_run = onnx_runs.from_run(loaded, file)
        if self.runtime == "onnx":
            return onnx_run
        t = onnx_runs.time_both(loaded, onnx_run)
        pick = "onnx" if t["onnx"] < t["pytorch"] else "pytorch"
        log.info(
            "%s: one example in %.3f ms (PyTorch) vs %.3f ms (onnxruntime): serving through %s",
            loaded.run.path.name,
            1e3 * t["pytorch"],
            1e3 * t["onnx"],
            "onnxruntime" if pick == "onnx" else "PyTorch",
        )
        return onnx_run if pick == "onnx" else loaded

    def _load_onnx(self, path: Path) -> Served:
        run = onnx_runs.load_onnx_run(path)
        return Served(
            name=f"{run.spec.name}@{path.name}",
            loaded=run,
            verbs=("predict",),
            metrics=run.metrics,
            mtime=(path / onnx_runs.SERVING_FILE).stat().st_mtime,  # written after the export: the reload stamp
        )

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root)) or "."
        except ValueError:
            return str(path)

    def _skip(self, path: Path, error: str) -> SkippedRun:
        return SkippedRun(path=self._rel(path), error=error)

    def names(self) -> list[str]:
        return sorted(s.info.name for s in self.runs.values() if s.info is not None)

    def find(self, name: str) -> Served | None:
        return self.runs.get(self.latest.get(name, name))

    def resolve(self, name: str, verb: str | None = None) -> Served:
        served = self.find(name)
        if served is None:
            hint = (
                " (every run is also reachable as <model>@<run>; runs trained after the server started "
                "are served after POST /v1/reload)"
                if self.runs
                else f" (no runs under {self.root}; after training one, POST /v1/reload)"
            )
            raise APIError(404, choices_error("model", name, self.names()) + hint)
        if verb is not None and verb not in served.verbs:
            spec = served.loaded.spec
            serves = (
                f"it serves: {', '.join(served.verbs)} (POST /v1/models/{name}/{served.verbs[0]})"
                if served.verbs
                else "it serves no inference verb"
            )
            raise APIError(
                400, f"{served.name} is a {spec.task} model ({spec.family}) and does not serve '{verb}'; {serves}"
            )
        return served

    def close(self) -> None:
        for s in self.runs.values():
            s.close()


def _assign_names(runs: dict[str, Served]) -> dict[str, str]:
    """Give every run its info (short name, aliases, latest flag); returns <model> -> its newest run."""
    latest: dict[str, str] = {}
    by_model: dict[str, list[Served]] = {}
    for s in runs.values():
        by_model.setdefault(s.loaded.spec.name, []).append(s)
    for model, group in by_model.items():
        group.sort(key=lambda s: (s.mtime, s.name))
        latest[model] = group[-1].name
        for s in group:
            newest = s is group[-1]
            s.info = _model_info(
                s,
                short=model if len(group) == 1 else s.name,
                aliases=[s.name, model] if newest else [s.name],
                latest=newest,
            )
    return latest


def _model_info(s: Served, *, short: str, aliases: list[str], latest: bool) -> ModelInfo:
    spec, cfg = s.loaded.spec, s.loaded.config
    shape = cfg.info.get("input_shape")
    return ModelInfo(
        name=short,
        aliases=aliases,
        model=spec.name,
        run=s.loaded.run.path.name,
        latest=latest,
        family=spec.family,
        task=spec.task,
        paradigm=spec.paradigm,
        description=spec.description,
        input_shape=[int(d) for d in shape] if shape else None,
        class_names=cfg.info.get("class_names"),
        data=cfg.data.get("name"),
        metrics=s.metrics,
        verbs=list(s.verbs),
        runtime="onnxruntime" if isinstance(s.loaded, onnx_runs.OnnxRun) else "pytorch",
        bodies={verb: body.model_json_schema() for verb, body in inference.requests_of(spec).items()},
    )


def plots_of(run: RunDir) -> dict[str, Path]:
    """The run's figures: regular PNG files directly in its plots/ folder, with plain names (PLOT_NAME).
    Only these can be fetched: a name is looked up here, never joined onto a path."""
    folder = run.plots_dir
    if folder.is_symlink() or not folder.is_dir():  # a plots/ linked elsewhere is not the run's
        return {}
    return {
        p.name: p
        for p in sorted(folder.iterdir())
        if re.fullmatch(PLOT_NAME, p.name) and not p.is_symlink() and p.is_file()
    }


# -- request bodies: size limit and standard JSON -----------------------------------------------

_NONFINITE = re.compile(rb"NaN|Infinity")


class BodyGuard:
    """ASGI middleware: refuse bodies over ``max_bytes`` (413), bodies not received in full within
    ``timeout_s`` (408: a slow or half-sent body no longer holds a connection open) and NaN/Infinity
    literals (422).

    Python's json module (and so FastAPI) accepts ``NaN``, ``Infinity`` and ``-Infinity``, which are
    not JSON. The body is read here in full, before anything parses it (stopping as soon as it is too
    large: a declared Content-Length over the limit is refused before reading), checked, and handed on
    to the app unchanged.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], *, max_bytes: int, timeout_s: float = 10.0) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await _reply(scope, receive, send, 400, f"invalid Content-Length {declared.decode()!r}")
            if int(declared) > self.max_bytes:
                return await _reply(scope, receive, send, 413, self._too_large(int(declared)))
        chunks, size = [], 0
        with anyio.move_on_after(self.timeout_s) as reading:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    return await _reply(scope, receive, send, 413, self._too_large(size, at_least=True))
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if reading.cancelled_caught:
            detail = (
                f"request body not received in full within {self.timeout_s:g} s ({size} bytes came); "
                f"send the whole body at once"
            )
            return await _reply(scope, receive, send, 408, detail, headers={"Connection": "close"})
        body = b"".join(chunks)
        if _NONFINITE.search(body):
            problem = nonfinite_literal(body)
            if problem:
                return await _reply(scope, receive, send, 422, problem)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self, size: int, *, at_least: bool = False) -> str:
        got = f"{'more than ' if at_least else ''}{size - 1 if at_least else size} bytes"
        return f"request body of {got} is over the limit of {self.max_bytes} bytes; send fewer examples per request"


async def _reply(
    scope: dict[str, Any],
    receive: Callable,
    send: Callable,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
) -> None:
    await error_response(status, detail, headers)(scope, receive, send)


_TENSOR_BODIES: dict[str, type[BaseModel]] = {
    "predict": InputsRequest,
    "reconstruct": InputsRequest,
    "act": InputsRequest,
    "sample": SampleRequest,
}


# -- the app ------------------------------------------------------------------------------------


def create_app(
    runs: Path | str | None = None,
    *,
    settings: ServeSettings | None = None,
    max_body_bytes: int | None = None,
    max_batch: int | None = None,
    max_wait_ms: float | None = None,
    api_key: str | None = None,
) -> FastAPI:
    """Serve every finished run under ``runs``.

    Args:
        runs: folder of run directories (``runs/<model>/<run>/``), searched recursively
            (default: ``settings.runs``).
        settings: every limit of the server (settings.py: body size and timeout, batching, per-model
            concurrency and queue, compute budgets, API key); the arguments below override its fields.
        max_body_bytes: largest request body accepted; larger ones get 413.
        max_batch: examples per forward pass when concurrent requests are batched (1 = no batching).
        max_wait_ms: how long the first request of a batch waits for others (0 = adaptive: only what
            queued while the last forward pass ran).
        api_key: when given, every endpoint but /healthz needs ``Authorization: Bearer <key>``.
    """
    given = {
        "runs": None if runs is None else str(runs),
        "max_body_bytes": max_body_bytes,
        "max_batch": max_batch,
        "max_wait_ms": max_wait_ms,
        "api_key": api_key,
    }
    cfg = replace(settings or ServeSettings(), **{k: v for k, v in given.items() if v is not None})
    _show_logs()
    table = ModelTable(
        cfg.runs, batching=BatchConfig(max_batch=cfg.max_batch, max_wait_ms=cfg.max_wait_ms), runtime=cfg.runtime
    )
    gates: dict[str, Gate] = {}

    def gate(served: Served) -> Gate:
        if served.name not in gates:
            gates[served.name] = Gate(
                name=served.name,
                concurrency=cfg.max_concurrency,
                queue=cfg.max_queue,
                timeout_s=cfg.queue_timeout_s,
            )
        return gates[served.name]

    try:
        metrics: Metrics | None = Metrics(gates=lambda: gates)
    except ImportError:  # prometheus-client is in the [serve] extra; without it /metrics says so
        metrics = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await anyio.to_thread.run_sync(table.close)

    app = FastAPI(
        title="dlzoo",
        version=__version__,
        lifespan=lifespan,
        description="Inference over trained dlzoo runs. A model is named <model> (its latest run) "
        "or <model>@<run>; see GET /v1/models."
        + (" Every endpoint but /healthz needs Authorization: Bearer <key>." if cfg.api_key else ""),
    )
    app.state.models, app.state.settings, app.state.gates = table, cfg, gates
    app.add_middleware(BodyGuard, max_bytes=cfg.max_body_bytes, timeout_s=cfg.body_timeout_s)
    if cfg.api_key:
        app.add_middleware(ApiKey, key=cfg.api_key)

    def labels(path: str) -> tuple[str, str]:
        """(model, verb) metric labels: served names and known verbs only (a client cannot add values)."""
        parts = path.strip("/").split("/")
        if len(parts) in (3, 4) and parts[:2] == ["v1", "models"]:
            served = table.find(parts[2])
            if served is None:
                return "-", "-"
            return served.name, (parts[3] if len(parts) == 4 and parts[3] in served.verbs else "info")
        return "-", {"/healthz": "healthz", "/v1/models": "list", "/v1/reload": "reload"}.get(path, "-")

    app.add_middleware(Observe, metrics=metrics, labels=labels)  # outermost: ids and timing for every answer
    app.openapi = partial(_openapi_with_integer_bounds, app)  # type: ignore[method-assign]

    @app.exception_handler(APIError)
    async def _api_error(_: Request, e: APIError) -> JSONResponse:
        return error_response(e.status, e.detail, e.headers)

    @app.exception_handler(Busy)
    async def _busy(_: Request, e: Busy) -> JSONResponse:
        return error_response(503, e.detail, {"Retry-After": str(e.retry_after)})

    @app.exception_handler(InputError)
    async def _input_error(_: Request, e: InputError) -> JSONResponse:
        return error_response(422, str(e))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, e: RequestValidationError) -> JSONResponse:
        expected, body = "", ""
        name = request.path_params.get("name")
        served = table.find(name) if name else None
        shape = served.info.input_shape if served is not None and served.info is not None else None
        if shape:
            dims = ", ".join(map(str, shape))
            expected = f" of shape (batch, {dims}) or ({dims})"
        if served is not None:
            verb = request.url.path.rstrip("/").rsplit("/", 1)[-1]
            schema = inference.requests_of(served.loaded.spec).get(verb) or _TENSOR_BODIES.get(verb)
            if schema is not None:
                body = f"; {expected_body(schema, shape=shape)}"
        detail = describe_validation(list(e.errors()), expected=expected) + body
        return error_response(422, detail)

    async def guarded(work: Awaitable[Any]) -> Any:
        """Await inference; errors that are not about the input become a 500 with the reason."""
        try:
            return await work
        except (APIError, InputError, Busy):
            raise
        except Exception as e:
            log.exception("inference failed")
            raise APIError(500, f"inference failed: {type(e).__name__}: {e}") from None

    async def limited(served: Served, work: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``work`` in one of the model's slots (503 when none frees up in time)."""
        g = gate(served)
        await g.acquire()
        try:
            return await guarded(work())
        finally:
            g.release()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def playground() -> HTMLResponse:
        """The playground page: static HTML + JS that calls only the public API (playground.html)."""
        return HTMLResponse(PLAYGROUND.read_text(encoding="utf-8"))

    @app.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        return Health(status="ok", models=len(table.runs))

    @app.get("/metrics", response_class=Response, responses={501: {"model": ErrorResponse}})
    async def prometheus_metrics() -> Response:
        """Prometheus metrics: requests, latency, batch sizes, queue depth and active requests per model."""
        if metrics is None:
            raise APIError(501, "metrics need prometheus-client, in the [serve] extra: pip install 'dlzoo[serve]'")
        body, media_type = metrics.render()
        return Response(body, media_type=media_type)

    @app.get("/v1/models", response_model=ModelList, responses=ERRORS)
    async def list_models() -> ModelList:
        infos = sorted((s.info for s in table.runs.values() if s.info), key=lambda i: (i.model, i.run))
        return ModelList(version=table.version, models=infos, skipped=table.skipped)

    @app.post("/v1/reload", response_model=ReloadResponse, responses=ERRORS)
    async def reload() -> ReloadResponse:
        """Scan the runs folder again: serve runs trained (or retrained) since, drop runs that are gone."""
        return ReloadResponse(**await anyio.to_thread.run_sync(table.reload))

    @app.get("/v1/models/{name}", response_model=ModelInfo, responses=ERRORS)
    async def get_model(name: str) -> ModelInfo:
        return table.resolve(name).info

    @app.get("/v1/models/{name}/card", response_model=CardResponse, responses=ERRORS)
    async def get_card(name: str) -> CardResponse:
        """The run's model card (card.md, Markdown), its info, and its plots (fetch each at its url)."""
        served = table.resolve(name)
        run = served.loaded.run

        def read() -> tuple[str | None, dict[str, Path]]:
            card = run.card_path.read_text(encoding="utf-8") if run.card_path.is_file() else None
            return card, plots_of(run)

        card, plots = await anyio.to_thread.run_sync(read)
        base = f"/v1/models/{served.info.name}/plots/"
        return CardResponse(
            model=served.name,
            card=card,
            info=served.info,
            plots=[PlotInfo(name=n, url=base + n, bytes=p.stat().st_size) for n, p in plots.items()],
        )

    @app.get(
        "/v1/models/{name}/plots/{plot}",
        response_class=Response,
        responses={**ERRORS, 200: {"content": {"image/png": {}}, "description": "the PNG file"}},
    )
    async def get_plot(name: str, plot: Annotated[str, FastAPIPath(pattern=PLOT_NAME)]) -> Response:
        """One figure of the run's plots/ folder, by a name its card lists (404 for any other)."""
        served = table.resolve(name)
        plots = await anyio.to_thread.run_sync(plots_of, served.loaded.run)
        if plot not in plots:
            listed = ", ".join(plots) or "none"
            raise APIError(404, f"{served.name} has no plot {plot!r}; its plots: {listed} (GET /v1/models/{name}/card)")
        return Response(await anyio.to_thread.run_sync(plots[plot].read_bytes), media_type="image/png")

    def serving(verb: str) -> Any:
        """Dependency: the model named in the path, if it serves ``verb`` (checked before the body)."""

        async def resolve(name: str) -> Served:  # async: a sync dependency would cost a thread hop per request
            return table.resolve(name, verb)

        return Depends(resolve)

    async def batched(served: Served, verb: str, inputs: Any) -> dict[str, list[Any]]:
        on_batch = partial(metrics.observe_batch, served.name, verb) if metrics is not None else None
        batcher = served.batcher(verb, table.batching, on_batch)
        return await limited(served, lambda: batcher.submit(inputs))

    def invalid(e: ValidationError) -> RequestValidationError:
        """A body validated by hand reports its errors like one validated by FastAPI."""
        return RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in e.errors()])

    def parse(schema: type[BaseModel], body: Any) -> Any:
        if isinstance(body, schema):
            return body
        try:
            return schema.model_validate(body.model_dump() if isinstance(body, BaseModel) else body)
        except ValidationError as e:
            raise invalid(e) from None

    def budget(served: Served, body: Any) -> None:
        """422 when a sample request asks for more compute than the server allows per request."""
        steps = int(served.loaded.spec.pipeline.sample_steps)  # checked at registration
        cost = request_cost(body, sample_steps=steps)
        if cost is None:
            return
        what, units = cost
        text = hasattr(body, "max_new_tokens")
        check_budget(
            what=what,
            cost=units,
            budget=cfg.max_tokens if text else cfg.max_sample_steps,
            option="dlzoo serve --max-tokens" if text else "dlzoo serve --max-sample-steps",
            advice="ask for fewer samples" + (" or fewer tokens" if text else "") + ", in several requests",
        )

    async def own_request(served: Served, verb: str, body: Any) -> Any:
        """A family's own request body (graphs, prompts): its schema validates it, its pipeline answers.
        A dict becomes one JSON response; an iterator is streamed as JSON lines (application/x-ndjson),
        holding the model's slot until the stream ends or the client goes away."""
        parsed = parse(inference.requests_of(served.loaded.spec)[verb], body)
        budget(served, parsed)
        g = gate(served)
        await g.acquire()
        try:
            out = await guarded(anyio.to_thread.run_sync(partial(inference.handle, served.loaded, verb, parsed)))
        except BaseException:
            g.release()
            raise
        if isinstance(out, dict):
            g.release()
            return JSONResponse({"model": served.name, **out})
        release = once(g.release)  # by the stream's end, or after the response if the stream never started
        lines = stream_lines(_json_lines(out, served.name), release=release)
        after = BackgroundTasks()
        after.add_task(release)
        return StreamingResponse(lines, media_type="application/x-ndjson", background=after)

    def has_own(served: Served, verb: str) -> bool:
        return verb in inference.requests_of(served.loaded.spec)

    @app.post(
        "/v1/models/{name}/predict", response_model=PredictResponse, response_model_exclude_none=True, responses=ERRORS
    )
    async def predict(
        body: Annotated[InputsRequest | dict[str, Any], Body()], served: Served = serving("predict")
    ) -> Any:
        """classify: labels, probabilities and class names; regress: predictions. One row per example.
        Families with inputs of their own (graphs, strings) take the body their model lists in its info."""
        if has_own(served, "predict"):
            return await own_request(served, "predict", body)
        out = await batched(served, "predict", parse(InputsRequest, body).inputs)
        # a PredictResponse's fields, built here from lists of ints, floats and strs: returned as JSON
        # directly (FastAPI would dump, validate and dump the model again: ~0.1 ms per request at 1 client)
        return JSONResponse({"model": served.name, **out})

    @app.post("/v1/models/{name}/reconstruct", response_model=ReconstructResponse, responses=ERRORS)
    async def reconstruct(body: InputsRequest, served: Served = serving("reconstruct")) -> ReconstructResponse:
        """Encode and decode each example (autoencoders)."""
        rows = (await batched(served, "reconstruct", body.inputs))["reconstructions"]
        return ReconstructResponse(model=served.name, reconstructions=rows, shape=[len(rows), *_shape(rows[0])])

    @app.post("/v1/models/{name}/act", response_model=ActResponse, responses=ERRORS)
    async def act(body: InputsRequest, served: Served = serving("act")) -> ActResponse:
        """The greedy action of a policy for each observation."""
        out = await batched(served, "act", body.inputs)
        return ActResponse(model=served.name, actions=out["actions"])

    @app.post(
        "/v1/models/{name}/sample",
        response_model=SampleResponse | TextSampleResponse,
        responses={**ERRORS, 200: {"content": {"application/x-ndjson": {}}}},
    )
    async def sample(
        body: Annotated[SampleRequest | dict[str, Any] | None, Body()] = None, served: Served = serving("sample")
    ) -> Any:
        """n samples from a generative model; the same seed gives the same samples. Language models take
        a prompt (see their info) and answer completions, or JSON lines when they stream."""
        if has_own(served, "sample"):
            return await own_request(served, "sample", body if body is not None else {})
        body = parse(SampleRequest, body) if body is not None else SampleRequest()
        budget(served, body)
        run = partial(inference.sample, served.loaded, n=body.n, seed=body.seed)
        x = await limited(served, lambda: anyio.to_thread.run_sync(run))
        if not bool(torch.isfinite(x).all()):
            raise APIError(500, f"{served.name} produced non-finite samples (seed {body.seed}): its weights are broken")
        return SampleResponse(model=served.name, samples=x.tolist(), shape=list(x.shape))

    @app.post("/v1/models/{name}/{verb}", responses=ERRORS)
    async def other_verb(verb: str, body: Annotated[dict[str, Any], Body()], name: str) -> Any:
        """Verbs a family answers with a request body of its own (e.g. embed)."""
        served = table.resolve(name, verb)
        return await own_request(served, verb, body)

    return app


def _openapi_with_integer_bounds(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with the bounds of integer fields written as integers (it writes ``1024.0``)."""
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)

        def fix(node: Any) -> None:
            if isinstance(node, dict):
                if node.get("type") == "integer":
                    for k in ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
                        if isinstance(node.get(k), float) and node[k].is_integer():
                            node[k] = int(node[k]) if abs(node[k]) < 2**63 else 2**63 - 1
                for v in node.values():
                    fix(v)
            elif isinstance(node, list):
                for v in node:
                    fix(v)

        fix(schema)
        app.openapi_schema = schema
    return app.openapi_schema


def _show_logs() -> None:
    """Make the start-up lines visible when nothing configured logging (``dlzoo serve`` under uvicorn,
    which sets up only its own loggers): INFO and above of ``dlzoo.serve`` go to stderr."""
    if not any(isinstance(f, RequestIdFilter) for f in log.filters):
        log.addFilter(RequestIdFilter())  # record.request_id: the request being answered, "-" outside one
    if log.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: [%(request_id)s] %(message)s"))
    log.addHandler(handler)
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)


def _json_lines(items: Any, name: str) -> Any:
    """A stream of items as JSON lines (a str item is {"text": item}); an error ends it with {"error": ...}."""
    try:
        for item in items:
            yield json.dumps({"text": item} if isinstance(item, str) else item) + "\n"
    except InputError as e:
        yield json.dumps({"error": str(e)}) + "\n"
    except Exception as e:  # the status line is already sent: report in-band
        log.exception("streamed inference failed")
        yield json.dumps({"error": f"inference failed: {type(e).__name__}: {e}"}) + "\n"
    yield json.dumps({"done": True, "model": name}) + "\n"


def _shape(row: Any) -> list[int]:
    shape = []
    while isinstance(row, list):
        shape.append(len(row))
        row = row[0] if row else None
    return shape
