"""Export a model to ONNX or TorchScript, then prove the file computes what PyTorch computes.

    export_run("runs/mlp_classifier/<run>", fmt="onnx")     # -> <run>/export/model.onnx
    export_model(model, example, Path("m.pt"), fmt="torchscript")

Every export is followed by a parity check: the exported file is loaded back (onnxruntime for ONNX,
``torch.jit.load`` for TorchScript) and run on a batch of a *different size* than the example it
was exported with and on a single example, so a batch size frozen into the graph fails the check.
Outputs must agree with PyTorch elementwise, ``|exported - torch| <= atol + rtol * |torch|`` with
``atol = rtol = 1e-4``; otherwise ``ExportError`` reports the largest difference (and says so when
the PyTorch model is itself nondeterministic in eval mode). The check inputs are Gaussian noise
with the example's mean and spread: parity is about the graph, not about realistic data.

Exporters (torch 2.13):

- ONNX: the ``torch.export``-based exporter (``dynamo=True``, the default since torch 2.9) with a
  symbolic batch dimension. A model that ``torch.export`` cannot capture (data-dependent Python
  control flow, unsupported ops) falls back to the TorchScript-based exporter (``dynamo=False``,
  ``dynamic_axes``), which traces, with a warning: a data-dependent branch is frozen to the path
  the example took, which the parity check catches only when its inputs take another path.
- TorchScript: ``torch.jit.script`` when the model scripts (control flow is kept), else
  ``torch.jit.trace``. TorchScript is deprecated upstream; it is kept because it loads in C++
  (libtorch) without Python. Its DeprecationWarnings are silenced here.

A model's forward takes one float tensor (B, *input_shape), or several tensors (token ids, edge
indices: pass ``example`` as a tuple), and returns a tensor or a tuple/list of tensors
(``ExportReport.outputs`` counts them). By default dim 0 of every input is the batch dimension;
``dynamic`` names other varying dims (a graph's node and edge counts), and ``check`` supplies the
parity inputs when they cannot be made from the example (integer inputs are drawn from the
example's value range). The export is of the eval-mode model.

Metadata. ``export_run`` writes what a consumer of the file needs to read its outputs, as strings
(lists and shapes JSON-encoded): ``model`` (registry name), ``run`` (run directory name),
``input_shape``, and where the run has them ``class_names`` (what each output index means) and
``vocab`` (a language model's tokens as a list, token id order). ONNX: the model's ``metadata_props``
(``onnx.load(path).metadata_props``; onnxruntime: ``session.get_modelmeta().custom_metadata_map``).
TorchScript: the extra file ``metadata.json`` (``torch.jit.load(path, _extra_files={"metadata.json": ""})``).
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import torch
from torch import nn

from dlzoo.extras import require
from dlzoo.registry import choices_error

FORMATS = {"onnx": "model.onnx", "torchscript": "model.pt"}  # format -> default file name in <run>/export/
ATOL = 1e-4
RTOL = 1e-4
EXAMPLE_BATCH = 2  # batch size of the export example (not 1: a batch of 1 invites specialization)
CHECK_BATCH = 5  # batch size of the parity check, deliberately different from the example's


class ExportError(ValueError):
    """An export that failed or whose file does not reproduce the PyTorch outputs."""


@dataclass(frozen=True)
class ExportReport:
    path: Path  # the file written
    fmt: str  # "onnx" | "torchscript"
    max_abs_diff: float  # largest |exported - torch| over every output element of the parity batches
    outputs: int  # number of output tensors of forward
    exporter: str = ""  # which exporter produced the file: "dynamo" | "torchscript-onnx" | "script" | "trace"
    metadata: dict[str, str] | None = None  # written into the file: ONNX metadata_props / TorchScript metadata.json


Inputs = tuple[torch.Tensor, ...]  # the positional arguments of forward
Dynamic = tuple[dict[int, str], ...]  # per input: {dim: name} of the dims that vary (same name = same size)


def export_run(run_dir: Path | str, *, fmt: str, out: Path | None = None) -> ExportReport:
    """Rebuild a run's model from config.yaml + weights and export it (default: <run>/export/).

    The example and the parity inputs come from the family pipeline's ``export_inputs(loaded, n)``
    (by default Gaussian noise of the recorded input shape), the varying dims from its ``dynamic_dims``.
    """
    from dlzoo.runs import load_run
    from dlzoo.validation import InputError

    _check_fmt(fmt)
    loaded = load_run(run_dir)
    path = Path(out) if out is not None else loaded.run.path / "export" / FORMATS[fmt]
    pipeline = loaded.spec.pipeline
    try:
        example, check = (
            pipeline.export_inputs(loaded, EXAMPLE_BATCH),
            [
                pipeline.export_inputs(loaded, CHECK_BATCH),
                pipeline.export_inputs(loaded, 1),
            ],
        )
    except InputError as e:
        raise ExportError(f"cannot build an example input: {e}") from None
    return export_model(
        loaded.model, example, path, fmt=fmt, check=check, dynamic=pipeline.dynamic_dims, metadata=run_metadata(loaded)
    )


def run_metadata(loaded: Any) -> dict[str, str]:
    """What an exported file carries about its run: model, run, input_shape, class_names, vocab (strings)."""
    info = loaded.config.info
    meta = {"model": loaded.spec.name, "run": loaded.run.path.name}
    vocab = info.get("vocab", info.get("vocabulary"))  # language: a string of characters; seq2seq: a list
    facts = {"input_shape": info.get("input_shape"), "class_names": info.get("class_names"), "vocab": vocab}
    for key, value in facts.items():
        if value is not None:
            meta[key] = json.dumps(list(value))  # always a JSON list: token i / class i / dim i
    return meta


def export_model(
    model: nn.Module,
    example: torch.Tensor | Inputs,
    path: Path,
    *,
    fmt: str,
    check: list[Inputs] | None = None,
    dynamic: Dynamic | None = None,
    metadata: dict[str, str] | None = None,
    atol: float = ATOL,
    rtol: float = RTOL,
) -> ExportReport:
    """Export ``model`` (in eval mode) captured on ``example`` and check parity on other batch sizes.

    ``example``: a tensor (B, *input_shape) or a tuple of forward's inputs. ``check``: input tuples for
    the parity check (default: made from the example with batch sizes 5 and 1). ``dynamic``: per input,
    {dim: name} of the varying dims (default: dim 0 of every input, "batch"). ``metadata``: string
    key/values written into the file before the check (ONNX metadata_props, TorchScript metadata.json).
    """
    _check_fmt(fmt)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = _as_inputs(example)
    dynamic = tuple(dynamic) if dynamic is not None else tuple({0: "batch"} for _ in example)
    if len(dynamic) != len(example):
        raise ExportError(f"dynamic names the dims of {len(dynamic)} inputs, forward takes {len(example)}")
    was_training = model.training
    model.eval()
    try:
        batches = [_as_inputs(c) for c in check] if check is not None else _check_inputs(example)
        with torch.no_grad():
            expected = [_outputs(model(*x)) for x in batches]
        if fmt == "onnx":
            exporter = _export_onnx(model, example, path, n_outputs=len(expected[0]), dynamic=dynamic)
            if metadata:
                _set_onnx_metadata(path, metadata)
            run = _onnx_runner(path)
        else:
            exporter = _export_torchscript(model, example, path, metadata=metadata or {})
            run = _torchscript_runner(path)
        diff = 0.0
        for x, want in zip(batches, expected, strict=True):
            size = (
                f"a batch of {len(x[0])}"
                if len(x) == 1
                else "inputs of dim-0 sizes " + "/".join(str(t.shape[0]) if t.ndim else "()" for t in x)
            )
            try:
                got = run(x)
            except Exception as e:  # a graph that cannot take another batch size fails here
                raise ExportError(
                    f"{path}: the exported {fmt} model fails on {size} "
                    f"(exported with {len(example[0])}): {_first_line(e)}"
                ) from None
            with torch.no_grad():
                diff = max(
                    diff,
                    _parity(
                        want,
                        got,
                        atol=atol,
                        rtol=rtol,
                        rerun=lambda x=x: _outputs(model(*x)),
                        where=f"{path} ({fmt}, {exporter} exporter, {size})",
                    ),
                )
    finally:
        model.train(was_training)
    return ExportReport(
        path=path, fmt=fmt, max_abs_diff=diff, outputs=len(expected[0]), exporter=exporter, metadata=metadata
    )


def _as_inputs(x: torch.Tensor | Inputs) -> Inputs:
    inputs = (x,) if isinstance(x, torch.Tensor) else tuple(x)
    if not inputs or not all(isinstance(t, torch.Tensor) for t in inputs):
        raise ExportError("example inputs must be a tensor or a non-empty tuple of tensors")
    return inputs


def _check_inputs(example: Inputs) -> list[Inputs]:
    """Parity inputs: batches of CHECK_BATCH and of 1 drawn like the example, which is not reused.

    Float inputs: Gaussian noise with the example's mean and spread (parity is about the graph, not
    about realistic data). Integer inputs (token ids): uniform over the example's [min, max].
    """
    g = torch.Generator().manual_seed(1)

    def like(t: torch.Tensor, n: int) -> torch.Tensor:
        shape = (n, *t.shape[1:])
        if t.is_floating_point():
            scale = float(t.std()) if t.numel() > 1 else 1.0
            return (torch.randn(shape, generator=g) * scale + float(t.float().mean())).to(t.dtype)
        if t.dtype == torch.bool:
            return torch.randint(0, 2, shape, generator=g).bool()
        return torch.randint(int(t.min()), int(t.max()) + 1, shape, generator=g).to(t.dtype)

    big = tuple(like(t, CHECK_BATCH) for t in example)
    return [big, tuple(t[:1] for t in big)]  # another batch size than the example's, and a single example


def _check_fmt(fmt: str) -> None:
    """A known format whose tools are installed (ONNX: the exporter's onnx/onnxscript and onnxruntime)."""
    if fmt not in FORMATS:
        raise ExportError(choices_error("export format", fmt, list(FORMATS)))
    if fmt == "onnx":
        for module in ("onnx", "onnxscript", "onnxruntime"):
            require(module, extra="export", feature="ONNX export")


def _outputs(out: Any) -> tuple[torch.Tensor, ...]:
    """forward's result as a flat tuple of tensors."""
    if isinstance(out, torch.Tensor):
        return (out,)
    if isinstance(out, (tuple, list)) and out and all(isinstance(t, torch.Tensor) for t in out):
        return tuple(out)
    raise ExportError(f"forward must return a tensor or a tuple of tensors to be exported, got {type(out).__name__}")


def _parity(
    expected: tuple[torch.Tensor, ...],
    got: tuple[torch.Tensor, ...],
    *,
    atol: float,
    rtol: float,
    where: str,
    rerun: Callable[[], tuple[torch.Tensor, ...]],
) -> float:
    """Largest |got - expected|; ExportError when any element is outside atol + rtol * |expected|."""
    if len(got) != len(expected):
        raise ExportError(f"{where}: {len(got)} outputs, PyTorch gives {len(expected)}")
    worst, failed = 0.0, []
    for i, (e, g) in enumerate(zip(expected, got, strict=True)):
        g = torch.as_tensor(g).to(e.dtype)
        if g.shape != e.shape:
            raise ExportError(f"{where}: output {i} has shape {tuple(g.shape)}, PyTorch gives {tuple(e.shape)}")
        d = (g - e).abs()
        worst = max(worst, float(d.max()) if d.numel() else 0.0)
        if not bool((d <= atol + rtol * e.abs()).all()):
            failed.append(i)
    if failed:
        msg = f"{where}: parity check failed on output(s) {failed}: max |diff| = {worst:.3g} (atol {atol}, rtol {rtol})"
        again = rerun()
        self_diff = max(float((a - b).abs().max()) for a, b in zip(expected, again, strict=True))
        if self_diff > 0:
            msg += (
                f"; the PyTorch model itself is not deterministic in eval mode (two passes differ by {self_diff:.3g})"
            )
        raise ExportError(msg)
    return worst


# -- ONNX ---------------------------------------------------------------------------------------


def _io_names(n_inputs: int, n_outputs: int) -> tuple[list[str], list[str]]:
    inputs = ["input"] if n_inputs == 1 else [f"input_{i}" for i in range(n_inputs)]
    return inputs, ["output"] if n_outputs == 1 else [f"output_{i}" for i in range(n_outputs)]


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' deprecation warnings, log chatter and graph dumps on stdout/stderr."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _export_onnx(model: nn.Module, example: Inputs, path: Path, *, n_outputs: int, dynamic: Dynamic) -> str:
    inputs, outputs = _io_names(len(example), n_outputs)
    # weights inside the .onnx file unless they exceed protobuf's 2 GB limit
    large = sum(t.numel() * t.element_size() for t in model.state_dict().values()) > 1.5 * 2**30
    dims: dict[str, Any] = {}  # one torch.export.Dim per name, so equal names are one symbolic size
    shapes = tuple({d: dims.setdefault(n, torch.export.Dim(n)) for d, n in spec.items()} or None for spec in dynamic)
    try:
        with _quiet():
            torch.onnx.export(
                model,
                example,
                str(path),
                dynamo=True,
                external_data=large,
                input_names=inputs,
                output_names=outputs,
                dynamic_shapes=shapes,
                verbose=False,
            )
        return "dynamo"
    except Exception as e:  # torch.export could not capture the model: trace it instead
        reason = _first_line(e)
    lead = dynamic[0].get(0)  # outputs vary along dim 0 like the first input's dim 0 (batch, or nodes)
    axes = {
        **{name: spec for name, spec in zip(inputs, dynamic, strict=True) if spec},
        **({name: {0: lead} for name in outputs} if lead else {}),
    }
    try:
        with _quiet():
            torch.onnx.export(
                model, example, str(path), dynamo=False, input_names=inputs, output_names=outputs, dynamic_axes=axes
            )
    except Exception as e:
        raise ExportError(
            f"ONNX export of {type(model).__name__} failed: torch.export: {reason}; tracing exporter: {_first_line(e)}"
        ) from None
    warnings.warn(
        f"torch.export could not capture {type(model).__name__} ({reason}); exported with the tracing "
        "ONNX exporter instead, which freezes data-dependent branches to the example's path",
        stacklevel=3,
    )
    return "torchscript-onnx"


def _set_onnx_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Write string key/values into the model's metadata_props (the graph and weights are untouched)."""
    onnx = require("onnx", extra="export", feature="ONNX export")
    proto = onnx.load(str(path), load_external_data=False)  # external weights stay where they are
    onnx.helper.set_model_props(proto, {**{p.key: p.value for p in proto.metadata_props}, **metadata})
    onnx.save(proto, str(path))


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    summary = next((ln for ln in lines if ln.startswith("<class")), lines[0] if lines else "")
    return f"{type(e).__name__}: {summary}"[:300]


def _onnx_runner(path: Path) -> Callable[[torch.Tensor], tuple[torch.Tensor, ...]]:
    ort = require("onnxruntime", extra="export", feature="the ONNX parity check")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(x: Inputs) -> tuple[torch.Tensor, ...]:
        if len(x) != len(names):  # an input the graph does not use is dropped from it by the exporter
            raise ExportError(f"the ONNX graph takes {len(names)} inputs ({names}), forward takes {len(x)}")
        return tuple(
            torch.from_numpy(o) for o in session.run(None, {n: t.numpy() for n, t in zip(names, x, strict=True)})
        )

    return run


# -- TorchScript --------------------------------------------------------------------------------


def _export_torchscript(model: nn.Module, example: Inputs, path: Path, *, metadata: dict[str, str]) -> str:
    with _quiet():
        try:
            module, how = torch.jit.script(model), "script"
        except Exception:  # not scriptable (dynamic Python): record one pass instead
            try:
                module, how = torch.jit.trace(model, example, check_trace=False), "trace"
            except Exception as e:
                raise ExportError(
                    f"TorchScript export of {type(model).__name__} failed (script and trace): {_first_line(e)}"
                ) from None
        extra = {"metadata.json": json.dumps(metadata)} if metadata else None
        torch.jit.save(module, str(path), _extra_files=extra)
    return how


def _torchscript_runner(path: Path) -> Callable[[torch.Tensor], tuple[torch.Tensor, ...]]:
    with _quiet():
        module = torch.jit.load(str(path), map_location="cpu")
    module.eval()

    @torch.no_grad()
    def run(x: Inputs) -> tuple[torch.Tensor, ...]:
        with _quiet():
            return _outputs(module(*x))

    return run
