"""The ``dlzoo`` command: list | info | train | eval | predict | sample | export | serve | bench."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="dlzoo: every core family of deep learning, trained, evaluated, exported and served the same way.",
)
console = Console()
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _known_errors() -> tuple[type[BaseException], ...]:
    from dlzoo.config import ConfigError
    from dlzoo.data import DataError
    from dlzoo.export import ExportError
    from dlzoo.inference import InputError
    from dlzoo.registry import RegistryError
    from dlzoo.runs import RunError, RunExistsError, TrainingDiverged

    return ConfigError, DataError, ExportError, InputError, RegistryError, RunError, RunExistsError, TrainingDiverged


@app.command("list")
def list_cmd(
    family: str | None = typer.Option(None, help="only this family"),
    task: str | None = typer.Option(None, help="classify | regress | generate | control"),
) -> None:
    """List registered models."""
    from dlzoo.registry import get_spec, list_models

    table = Table("model", "family", "task", "paradigm", "presets", "description")
    for name in list_models(family=family, task=task):
        s = get_spec(name)
        table.add_row(name, s.family, s.task, s.paradigm, ", ".join(s.presets), s.description)
    console.print(table)


@app.command()
def info(
    name: str = typer.Argument(..., help="model name (see `dlzoo list`)"),
    preset: str = typer.Option("default", help="preset to resolve"),
) -> None:
    """Show a model's arguments, presets and the resolved config of one preset."""
    import inspect

    from dlzoo.config import resolve_config
    from dlzoo.registry import get_spec

    spec = get_spec(name)
    console.print(f"[bold]{spec.name}[/] ({spec.family}, {spec.task}, {spec.paradigm}): {spec.description}")
    for arg, default in spec.params().items():
        shown = "required (filled from the data)" if default is inspect.Parameter.empty else repr(default)
        console.print(f"  model.{arg} = {shown}")
    console.print(f"presets: {', '.join(spec.presets)}")
    console.print(resolve_config(name, preset=preset).to_yaml(), highlight=False)


@app.command(context_settings={"allow_extra_args": False})
def train(
    name: str = typer.Argument(..., help="model name (see `dlzoo list`)"),
    overrides: list[str] | None = typer.Argument(None, help="dotted overrides: train.lr=0.01 model.hidden=[64]"),
    preset: str = typer.Option("default", "--preset", "-p", help="preset of the model (see `dlzoo info`)"),
    data: str | None = typer.Option(None, help="dataset (or environment) instead of the preset's"),
    runs: Path = typer.Option(Path("runs"), help="root of the run directories"),
    run_name: str | None = typer.Option(None, "--name", help="run directory name (default: a timestamp)"),
    resume: bool = typer.Option(False, help="continue the run --name from its last checkpoint"),
) -> None:
    """Train a model; writes runs/<model>/<name>/ (config, metrics, weights, card, plots)."""
    from dlzoo.config import resolve_config
    from dlzoo.runs import RunDir, default_run_name
    from dlzoo.training.loop import summarize, train_run

    # DDP re-launches this command per process: the first process picks the name, the others inherit it
    run_name = run_name or os.environ.get("DLZOO_RUN_NAME") or default_run_name()
    os.environ["DLZOO_RUN_NAME"] = run_name
    run = RunDir.create(runs, name, run_name)
    if resume:
        if not run.config_path.is_file():
            _fail(f"--resume: {run.path} has no run to resume (give the --name of an existing run)")
        if overrides or data:
            _fail("--resume continues a run with its saved config.yaml; overrides and --data are not allowed")
        cfg = run.read_config()
    else:
        cfg = resolve_config(name, preset=preset, overrides=overrides or [], data=data)
    result = train_run(cfg, run, resume=resume)
    if int(os.environ.get("LOCAL_RANK", "0")) == 0 and int(os.environ.get("NODE_RANK", "0")) == 0:
        console.print(f"[green]done[/] {run.path}: {summarize(result)}", highlight=False)


@app.command("eval")
def eval_cmd(
    run: Path = typer.Argument(..., help="run directory"), split: str = typer.Option("test", help="test | val")
) -> None:
    """Re-evaluate a finished run from config.yaml + model.safetensors; prints JSON metrics."""
    from dlzoo.evaluate import evaluate_run

    if split not in ("test", "val"):
        _fail(f"unknown split {split!r}; valid: test, val")
    console.print_json(json.dumps(evaluate_run(run, split=split)))


def _read_input(source: str, *, whole_body: bool = False) -> Any:
    """JSON from a file or '-' (stdin), or a .npy / .csv file of examples.

    A JSON object {"inputs": ...} (an HTTP body) gives its inputs, unless ``whole_body``: families
    with request bodies of their own (graphs, strings) get the object as it is."""
    from dlzoo.inference import InputError

    if source == "-":
        text = sys.stdin.read()
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"input file {source!r} not found (give a .json, .npy or .csv file, or - for stdin)")
        if path.suffix == ".npy":
            import numpy as np

            return np.load(path, allow_pickle=False)
        if path.suffix == ".csv":
            import numpy as np

            return np.loadtxt(path, delimiter=",", ndmin=2)
        text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"input is not valid JSON ({e})") from None
    return data["inputs"] if isinstance(data, dict) and "inputs" in data and not whole_body else data


@app.command()
def predict(
    run: Path = typer.Argument(..., help="run directory"),
    inputs: str = typer.Argument(..., help="a .json/.npy/.csv file of examples, or - for JSON on stdin"),
) -> None:
    """Predict (classify/regress) or act (control) on inputs; prints JSON."""
    from dlzoo import inference
    from dlzoo.runs import load_run

    loaded = load_run(run)
    own = "predict" in inference.requests_of(loaded.spec)  # a body of the family's own (strings, graphs)
    data = _read_input(inputs, whole_body=own)
    if own:
        result = inference.handle(loaded, "predict", data)
    elif loaded.spec.task == "control":
        result = {"actions": inference.act(loaded, data)}
    else:
        result = inference.predict(loaded, data)
    console.print_json(json.dumps(result))


@app.command()
def sample(
    run: Path = typer.Argument(..., help="run directory of a generative model"),
    n: int = typer.Option(64, help="number of samples"),
    seed: int = typer.Option(0),
    out: Path = typer.Option(
        Path("samples.png"), help=".png (image grid, or scatter plot of 2-D points) or .npy array"
    ),
    request: str | None = typer.Option(
        None, help='language models etc.: the JSON request body (e.g. \'{"prompt": "ROMEO:", "max_new_tokens": 200}\')'
    ),
) -> None:
    """Draw samples from a generative model into a PNG grid or an .npy file (language models: print text)."""
    from dlzoo import inference
    from dlzoo.runs import load_run

    loaded = load_run(run)
    if "sample" in inference.requests_of(loaded.spec):  # the family's own request: print what it answers
        try:
            body = json.loads(request) if request else {}
        except json.JSONDecodeError as e:
            raise typer.BadParameter(f"--request is not valid JSON: {e}") from None
        result = inference.handle(loaded, "sample", body)
        for item in [result] if isinstance(result, dict) else result:
            text = item if isinstance(item, str) else item.get("text") if "text" in item else json.dumps(item)
            console.print(text, end="" if isinstance(item, str) else "\n", markup=False, highlight=False)
        console.print()
        return
    x = inference.sample(loaded, n=n, seed=seed)
    if out.suffix == ".npy":
        import numpy as np

        np.save(out, x.numpy())
    else:
        from dlzoo.plots import samples_plot

        try:
            samples_plot(x, out, title=f"{n} samples, seed {seed}")
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--out") from None
    console.print(f"wrote {out}")


@app.command()
def export(
    run: Path = typer.Argument(..., help="run directory"),
    fmt: str = typer.Option("onnx", "--format", help="onnx | torchscript"),
    out: Path | None = typer.Option(None, help="output file (default: inside the run)"),
) -> None:
    """Export a run to ONNX or TorchScript and check parity against PyTorch."""
    from dlzoo.export import export_run

    report = export_run(run, fmt=fmt, out=out)
    console.print(f"wrote {report.path} (max |diff| vs PyTorch = {report.max_abs_diff:.2e})")


@app.command()
def serve(
    runs: Path = typer.Option(Path("runs"), help="folder of run directories to serve"),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
) -> None:
    """Serve every finished run under --runs over HTTP (FastAPI; OpenAPI at /docs)."""
    import uvicorn

    from dlzoo.serve import create_app

    uvicorn.run(create_app(runs), host=host, port=port)


@app.command()
def bench(
    name: str | None = typer.Argument(None, help="benchmark script in benchmarks/ (without .py)"),
    table: bool = typer.Option(False, "--table", help="regenerate the README results table"),
    args: list[str] | None = typer.Option(None, "--arg", help="argument passed to the script"),
) -> None:
    """Run a benchmark (benchmarks/<name>.py) or regenerate the README's results table."""
    import runpy
    import subprocess

    root = Path("benchmarks")
    if not root.is_dir():
        _fail("run `dlzoo bench` from the repository root (no benchmarks/ folder here)")
    scripts = sorted(p.stem for p in root.glob("*.py") if not p.stem.startswith("_"))
    if table:
        runpy.run_path(str(root / "_table.py"), run_name="__main__")
        return
    if name is None or name not in scripts:
        _fail(f"unknown benchmark {name!r}; valid: {', '.join(scripts)}")
    raise typer.Exit(subprocess.call([sys.executable, str(root / f"{name}.py"), *(args or [])]))


def main() -> None:
    known = _known_errors()
    try:
        code = app(standalone_mode=False)  # click returns the exit code of typer.Exit here
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("[red]aborted[/]")
        sys.exit(130)
    except known as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except Exception as e:  # click usage errors come through here with standalone_mode=False
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        raise


if __name__ == "__main__":
    main()
