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

A model's forward must take one float tensor (B, *input_shape) and return a tensor or a tuple/list
of tensors (``ExportReport.outputs`` counts them). The export is of the eval-mode model.
"""

from __future__ import annotations

import io
import logging
import warnings
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn

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


def export_run(run_dir: Path | str, *, fmt: str, out: Path | None = None) -> ExportReport:
    """Rebuild a run's model from config.yaml + weights and export it (default: <run>/export/)."""
    from dlzoo.inference import InputError, input_shape
    from dlzoo.runs import load_run

    _check_fmt(fmt)
    loaded = load_run(run_dir)
    try:
        shape = input_shape(loaded)
    except InputError as e:
        raise ExportError(f"cannot build an example input: {e}") from None
    example = torch.randn((EXAMPLE_BATCH, *shape), generator=torch.Generator().manual_seed(0))
    path = Path(out) if out is not None else loaded.run.path / "export" / FORMATS[fmt]
    return export_model(loaded.model, example, path, fmt=fmt)


def export_model(model: nn.Module, example: torch.Tensor, path: Path, *, fmt: str,
                 atol: float = ATOL, rtol: float = RTOL) -> ExportReport:
    """Export ``model`` (in eval mode) traced/captured on ``example`` (B, *input_shape) and check parity."""
    _check_fmt(fmt)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        g = torch.Generator().manual_seed(1)
        scale = float(example.std()) if example.numel() > 1 else 1.0
        check = torch.randn((CHECK_BATCH, *example.shape[1:]), generator=g) * scale + float(example.mean())
        batches = (check, check[:1])  # another batch size than the example's, and a single example
        with torch.no_grad():
            expected = [_outputs(model(x)) for x in batches]
        if fmt == "onnx":
            exporter = _export_onnx(model, example, path, n_outputs=len(expected[0]))
            run = _onnx_runner(path)
        else:
            exporter = _export_torchscript(model, example, path)
            run = _torchscript_runner(path)
        diff = 0.0
        for x, want in zip(batches, expected):
            try:
                got = run(x)
            except Exception as e:  # a graph that cannot take another batch size fails here
                raise ExportError(f"{path}: the exported {fmt} model fails on a batch of {len(x)} "
                                  f"(exported with a batch of {len(example)}): {_first_line(e)}") from None
            with torch.no_grad():
                diff = max(diff, _parity(want, got, atol=atol, rtol=rtol, rerun=lambda x=x: _outputs(model(x)),
                                         where=f"{path} ({fmt}, {exporter} exporter, batch of {len(x)})"))
    finally:
        model.train(was_training)
    return ExportReport(path=path, fmt=fmt, max_abs_diff=diff, outputs=len(expected[0]), exporter=exporter)


def _check_fmt(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ExportError(choices_error("export format", fmt, list(FORMATS)))


def _outputs(out: Any) -> tuple[torch.Tensor, ...]:
    """forward's result as a flat tuple of tensors."""
    if isinstance(out, torch.Tensor):
        return (out,)
    if isinstance(out, (tuple, list)) and out and all(isinstance(t, torch.Tensor) for t in out):
        return tuple(out)
    raise ExportError(f"forward must return a tensor or a tuple of tensors to be exported, got {type(out).__name__}")


def _parity(expected: tuple[torch.Tensor, ...], got: tuple[torch.Tensor, ...], *, atol: float, rtol: float,
            where: str, rerun: Callable[[], tuple[torch.Tensor, ...]]) -> float:
    """Largest |got - expected|; ExportError when any element is outside atol + rtol * |expected|."""
    if len(got) != len(expected):
        raise ExportError(f"{where}: {len(got)} outputs, PyTorch gives {len(expected)}")
    worst, failed = 0.0, []
    for i, (e, g) in enumerate(zip(expected, got)):
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
        self_diff = max(float((a - b).abs().max()) for a, b in zip(expected, again))
        if self_diff > 0:
            msg += (f"; the PyTorch model itself is not deterministic in eval mode "
                    f"(two passes differ by {self_diff:.3g})")
        raise ExportError(msg)
    return worst


# -- ONNX ---------------------------------------------------------------------------------------

def _io_names(n_outputs: int) -> tuple[list[str], list[str]]:
    return ["input"], ["output"] if n_outputs == 1 else [f"output_{i}" for i in range(n_outputs)]


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


def _export_onnx(model: nn.Module, example: torch.Tensor, path: Path, *, n_outputs: int) -> str:
    inputs, outputs = _io_names(n_outputs)
    # weights inside the .onnx file unless they exceed protobuf's 2 GB limit
    large = sum(t.numel() * t.element_size() for t in model.state_dict().values()) > 1.5 * 2**30
    try:
        with _quiet():
            torch.onnx.export(model, (example,), str(path), dynamo=True, external_data=large,
                              input_names=inputs, output_names=outputs,
                              dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
        return "dynamo"
    except Exception as e:  # torch.export could not capture the model: trace it instead
        reason = _first_line(e)
    axes = {name: {0: "batch"} for name in inputs + outputs}
    try:
        with _quiet():
            torch.onnx.export(model, (example,), str(path), dynamo=False, input_names=inputs,
                              output_names=outputs, dynamic_axes=axes)
    except Exception as e:
        raise ExportError(f"ONNX export of {type(model).__name__} failed: torch.export: {reason}; "
                          f"tracing exporter: {_first_line(e)}") from None
    warnings.warn(f"torch.export could not capture {type(model).__name__} ({reason}); exported with the tracing "
                  "ONNX exporter instead, which freezes data-dependent branches to the example's path", stacklevel=3)
    return "torchscript-onnx"


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    summary = next((ln for ln in lines if ln.startswith("<class")), lines[0] if lines else "")
    return f"{type(e).__name__}: {summary}"[:300]


def _onnx_runner(path: Path) -> Callable[[torch.Tensor], tuple[torch.Tensor, ...]]:
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError("the ONNX parity check needs onnxruntime: pip install 'dlzoo[export]'") from None
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(o) for o in session.run(None, {name: x.numpy()}))

    return run


# -- TorchScript --------------------------------------------------------------------------------

def _export_torchscript(model: nn.Module, example: torch.Tensor, path: Path) -> str:
    with _quiet():
        try:
            module, how = torch.jit.script(model), "script"
        except Exception:  # not scriptable (dynamic Python): record one pass instead
            try:
                module, how = torch.jit.trace(model, example, check_trace=False), "trace"
            except Exception as e:
                raise ExportError(f"TorchScript export of {type(model).__name__} failed "
                                  f"(script and trace): {_first_line(e)}") from None
        torch.jit.save(module, str(path))
    return how


def _torchscript_runner(path: Path) -> Callable[[torch.Tensor], tuple[torch.Tensor, ...]]:
    with _quiet():
        module = torch.jit.load(str(path), map_location="cpu")
    module.eval()

    @torch.no_grad()
    def run(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with _quiet():
            return _outputs(module(x))

    return run
