"""Serving an exported ONNX model with onnxruntime: no PyTorch in the request path.

A folder under the served root that holds a ``serving.yaml`` is served as one more model, whatever
produced its ONNX file (``dlzoo export --format onnx``, tf2onnx from Keras, ...)::

    runs/keras_digits/v1/
      model.onnx            the graph (or export/model.onnx, or the file named by `file:`)
      serving.yaml          what the server needs to know about it:

    name: keras_digits      # served as <name>@<folder>, and <name> for its newest folder
    task: classify          # classify | regress
    input_shape: [8, 8, 1]  # one example, without the batch dimension (the graph's dim 0 is the batch)
    outputs: probabilities  # classify: what the graph returns, logits (default) or probabilities
    class_names: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]   # optional
    input_range: [0.0, 1.0] # optional: values outside are refused (422), as for PyTorch runs
    description: ...        # optional; also optional: family (default "onnx"), data, metrics, file

``POST /v1/models/<name>/predict`` then answers like a PyTorch classifier (labels, probabilities,
class_names) or regressor (predictions), validated the same way (shape, finite values, batch limit,
range) with numpy, and run by an ``onnxruntime.InferenceSession``. ``GET /v1/models`` lists it with
family/paradigm "onnx"/"exported". Each request is one forward pass (the micro-batcher concatenates
torch tensors, so exported models are not batched across requests; onnxruntime is thread-safe and
uses its own threads within a request).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any
from collections.abc import Iterator, Mapping

import numpy as np
import yaml

from dlzoo.extras import require
from dlzoo.runs import RunDir, RunError
from dlzoo.serve.batching import BatchConfig, MicroBatcher
from dlzoo.validation import MAX_BATCH, InputError, NonFiniteOutput, nonfinite_message

SERVING_FILE = "serving.yaml"
ONNX_FILES = ("model.onnx", "export/model.onnx")  # looked for in this order when `file:` is not given
TASKS = ("classify", "regress")
OUTPUTS = ("logits", "probabilities")
_KEYS = {
    "name",
    "task",
    "input_shape",
    "outputs",
    "class_names",
    "input_range",
    "description",
    "family",
    "data",
    "metrics",
    "file",
}


class ExportedPipeline:
    """The part of a family pipeline the server asks about: an exported model has no verbs beyond predict."""

    verbs: tuple[str, ...] = ()
    requests: Mapping[str, Any] = MappingProxyType({})
    sample_steps: int = 1


@dataclass(frozen=True)
class OnnxSpec:
    """What the server shows of an exported model (the fields of a registry ModelSpec it reads)."""

    name: str
    task: str
    description: str
    family: str = "onnx"
    paradigm: str = "exported"
    pipeline: Any = ExportedPipeline


@dataclass(frozen=True)
class OnnxConfig:
    """The ``info`` and ``data`` sections the server reads from a run's config."""

    info: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class OnnxRun:
    """A served ONNX file: an onnxruntime session plus what ``serving.yaml`` says about it."""

    run: RunDir
    config: OnnxConfig
    spec: OnnxSpec
    session: Any  # onnxruntime.InferenceSession
    file: Path
    outputs: str = "logits"
    metrics: dict[str, float | None] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.config.info["input_shape"])

    @property
    def mtime(self) -> float:
        return self.file.stat().st_mtime

    def as_batch(self, data: Any) -> np.ndarray:
        """A nested list of one example or a batch -> float32 (B, *input_shape), checked like a PyTorch run's."""
        shape = self.input_shape
        want = ", ".join(map(str, shape))
        try:
            x = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError, OverflowError) as e:
            raise InputError(f"inputs must be numbers in nested lists of shape (batch, {want}): {e}") from None
        if x.size == 0:
            raise InputError(f"empty batch: send at least one example of shape ({want})")
        if x.shape == shape:
            x = x[None]
        if x.ndim == 2 and x.shape[1] == math.prod(shape) and len(shape) > 1:  # flattened examples
            x = x.reshape(-1, *shape)
        if tuple(x.shape[1:]) != shape:
            raise InputError(f"expected inputs of shape (batch, {want}) or ({want}), got {tuple(x.shape)}")
        if x.shape[0] > MAX_BATCH:
            raise InputError(f"batch of {x.shape[0]} examples is over the limit of {MAX_BATCH}")
        with np.errstate(over="ignore"):  # beyond float32's range: inf, refused just below
            x = x.astype(np.float32)
        if not np.isfinite(x).all():
            raise InputError("inputs contain NaN or infinity (numbers beyond float32's ±3.4e38 count as infinity)")
        bounds = self.config.info.get("input_range")
        if bounds:
            lo, hi = bounds
            if x.min() < lo or x.max() > hi:
                raise InputError(
                    f"inputs must lie in [{lo:g}, {hi:g}] like the training data, got values in "
                    f"[{float(x.min()):g}, {float(x.max()):g}]"
                )
        return x

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The graph's first output for a validated batch."""
        name = self.session.get_inputs()[0].name
        return np.asarray(self.session.run(None, {name: x})[0])

    def predict(self, x: np.ndarray) -> dict[str, Any]:
        """classify: labels + probabilities (+ class_names); regress: predictions. Same keys as dlzoo.inference."""
        out = self.forward(x)
        ok = np.isfinite(out.reshape(len(out), -1)).all(1)
        if not ok.all():  # overflow in the forward pass: an error, never nulls (one request per batch here)
            rows = np.flatnonzero(~ok).tolist()
            where = f"inputs[{', '.join(map(str, rows[:8]))}]" if len(x) > 1 else ""
            raise NonFiniteOutput(nonfinite_message(float(np.abs(x[rows]).max()), where=where), rows)
        if self.spec.task == "regress":
            return {"predictions": out.reshape(len(out), -1).squeeze(-1).tolist()}
        if self.outputs == "logits":
            z = np.exp(out - out.max(-1, keepdims=True))
            out = z / z.sum(-1, keepdims=True)
        labels = out.argmax(-1).tolist()
        result: dict[str, Any] = {"labels": labels, "probabilities": out.tolist()}
        names = self.config.info.get("class_names")
        if names:
            result["class_names"] = [names[i] for i in labels]
        return result

    def batcher(self, config: BatchConfig, *, name: str) -> MicroBatcher:
        """A worker thread that validates and answers one request per forward pass (numpy in, numpy out)."""
        return MicroBatcher(prepare=self.as_batch, run=self.predict, config=replace(config, max_batch=1), name=name)


def find_onnx_runs(root: Path | str) -> Iterator[Path]:
    """Every folder under ``root`` that holds a serving.yaml, sorted by path."""
    for f in sorted(Path(root).glob(f"**/{SERVING_FILE}")):
        yield f.parent


def load_onnx_run(path: Path | str) -> OnnxRun:
    """Read ``path/serving.yaml``, open its ONNX file with onnxruntime and check the two agree."""
    path = Path(path)
    where = path / SERVING_FILE
    try:
        raw = yaml.safe_load(where.read_text())
    except yaml.YAMLError as e:
        raise RunError(f"{where}: not valid YAML ({e})") from None
    if not isinstance(raw, dict):
        raise RunError(f"{where}: expected a mapping with name, task, input_shape")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise RunError(f"{where}: unknown key(s) {unknown}; valid keys: {sorted(_KEYS)}")
    missing = [k for k in ("name", "task", "input_shape") if k not in raw]
    if missing:
        raise RunError(f"{where}: missing {', '.join(missing)}")
    name, task, outputs = str(raw["name"]), raw["task"], raw.get("outputs", "logits")
    if not name or "@" in name or "/" in name:
        raise RunError(f"{where}: name must be non-empty, without '@' or '/', got {name!r}")
    if task not in TASKS:
        raise RunError(f"{where}: task must be one of {', '.join(TASKS)}, got {task!r}")
    if outputs not in OUTPUTS:
        raise RunError(f"{where}: outputs must be one of {', '.join(OUTPUTS)}, got {outputs!r}")
    shape = raw["input_shape"]
    if not isinstance(shape, list) or not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        raise RunError(f"{where}: input_shape must be a list of positive integers, got {shape!r}")
    names = raw.get("class_names")
    if names is not None and (task != "classify" or not isinstance(names, list)):
        raise RunError(f"{where}: class_names must be a list, and only for task: classify")
    bounds = raw.get("input_range")
    if bounds is not None and not (isinstance(bounds, list) and len(bounds) == 2 and bounds[0] < bounds[1]):
        raise RunError(f"{where}: input_range must be [low, high], got {bounds!r}")
    file = path / raw["file"] if "file" in raw else next((path / f for f in ONNX_FILES if (path / f).is_file()), None)
    if file is None or not file.is_file():
        raise RunError(f"{path}: no ONNX file ({raw.get('file') or ' or '.join(ONNX_FILES)})")

    ort = require("onnxruntime", extra="export", feature="serving ONNX models")
    session = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise RunError(f"{file}: the graph has {len(inputs)} inputs; serving.yaml models take one")
    graph_shape = inputs[0].shape  # e.g. ["batch", 8, 8, 1] or [None, 64]
    fixed = list(graph_shape[1:])
    if len(fixed) != len(shape) or any(isinstance(d, int) and d != s for d, s in zip(fixed, shape, strict=True)):
        raise RunError(f"{file}: the graph takes inputs of shape {graph_shape}, serving.yaml says (batch, *{shape})")
    if "float" not in inputs[0].type:
        raise RunError(f"{file}: the graph's input is {inputs[0].type}; served models take float tensors")

    metrics = {
        str(k): (float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None)
        for k, v in (raw.get("metrics") or {}).items()
    }
    info = {"input_shape": [int(d) for d in shape], "class_names": names, "input_range": bounds}
    spec = OnnxSpec(
        name=name,
        task=task,
        description=str(raw.get("description") or f"{task} model exported to ONNX ({file.name})"),
        family=str(raw.get("family") or "onnx"),
    )
    data = {"name": raw["data"]} if raw.get("data") else {}
    return OnnxRun(RunDir(path), OnnxConfig(info, data), spec, session, file, outputs, metrics)


def write_serving(
    path: Path | str,
    *,
    name: str,
    task: str,
    input_shape: list[int] | tuple[int, ...],
    **fields: Any,
) -> Path:
    """Write ``path/serving.yaml`` (the keys above) and return its path; checked by loading it back."""
    path = Path(path)
    raw = {"name": name, "task": task, "input_shape": [int(d) for d in input_shape], **fields}
    (path / SERVING_FILE).write_text(yaml.safe_dump(raw, sort_keys=False, default_flow_style=None))
    load_onnx_run(path)
    return path / SERVING_FILE


# -- a run served through its own ONNX export (dlzoo serve --runtime onnx|fastest) -------------------


def export_of(loaded: Any) -> Path | None:
    """``<run>/export/model.onnx`` when it exists, is newer than the weights and the model is a plain
    tensor classifier or regressor (predict is its only verb); otherwise None (served by PyTorch)."""
    spec, run = loaded.spec, loaded.run
    file = run.path / "export" / "model.onnx"
    plain = spec.task in TASKS and not spec.pipeline.verbs and not spec.pipeline.requests
    if not plain or not file.is_file() or file.stat().st_mtime < run.weights_path.stat().st_mtime:
        return None
    return file


def from_run(loaded: Any, file: Path) -> OnnxRun:
    """An OnnxRun answering predict for a PyTorch run from its ONNX export (same info, names, checks)."""
    import torch

    ort = require("onnxruntime", extra="export", feature="serving runs through their ONNX export")
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # the threads PyTorch would have used
    session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    spec = loaded.spec
    shown = OnnxSpec(spec.name, spec.task, spec.description, family=spec.family, paradigm=spec.paradigm)
    return OnnxRun(loaded.run, OnnxConfig(dict(loaded.config.info), dict(loaded.config.data)), shown, session, file)


def time_both(loaded: Any, onnx_run: OnnxRun, *, calls: int = 30) -> dict[str, float]:
    """Median seconds of one single-example predict through PyTorch and through onnxruntime."""
    import statistics
    import time

    import torch

    from dlzoo import inference

    x = loaded.spec.pipeline.export_inputs(loaded, 1)[0]
    lo, hi = onnx_run.config.info.get("input_range") or (None, None)
    if lo is not None:  # inside the training range, or the checks refuse it
        x = x.clamp(lo, hi)
    example = x.tolist()
    out: dict[str, float] = {}
    for name, call in (
        ("pytorch", lambda: inference.predict(loaded, example)),
        ("onnx", lambda: onnx_run.predict(onnx_run.as_batch(example))),
    ):
        with torch.inference_mode():
            for _ in range(3):
                call()
            times = []
            for _ in range(calls):
                t0 = time.perf_counter()
                call()
                times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return out
