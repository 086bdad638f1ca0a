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
from contextlib import asynccontextmanager
from dataclasses import replace
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
from dlzoo.serve.batching import BatchConfig
from dlzoo.serve.guard import APIError, BodyGuard, error_response
from dlzoo.serve.table import PLOT_NAME, ModelTable, Served, plots_of
from dlzoo.serve.messages import describe_validation, expected_body
from dlzoo.serve.limits import Busy, Gate, check_budget, once, request_cost, stream_lines
from dlzoo.serve.observe import Metrics, Observe, RequestIdFilter
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
    TextSampleResponse,
)

log = logging.getLogger("dlzoo.serve")
MiB = 2**20
PLAYGROUND = Path(__file__).with_name("playground.html")
ERRORS: dict[int | str, dict[str, Any]] = {c: {"model": ErrorResponse} for c in (400, 401, 404, 408, 413, 422, 503)}


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
