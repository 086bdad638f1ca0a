"""The ``dlzoo`` command: list | info | train | eval | predict | sample | export | serve | bench | nas; --version."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="dlzoo: every core family of deep learning, trained, evaluated, exported and served the same way.",
)


err = Console(stderr=True)  # messages only; what a program reads goes through print, never a wrapping console


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _known_errors() -> tuple[type[BaseException], ...]:
    from dlzoo.config import ConfigError
    from dlzoo.data import DataError
    from dlzoo.export import ExportError
    from dlzoo.extras import MissingExtra
    from dlzoo.inference import InputError
    from dlzoo.registry import RegistryError
    from dlzoo.runs import RunError, RunExistsError, TrainingDiverged

    return (
        ConfigError,
        DataError,
        ExportError,
        InputError,
        MissingExtra,
        RegistryError,
        RunError,
        RunExistsError,
        TrainingDiverged,
    )


def _version(value: bool) -> None:
    if value:
        from dlzoo import __version__

        print(f"dlzoo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print `dlzoo <version>` and exit"
    ),
) -> None:
    """dlzoo: every core family of deep learning, trained, evaluated, exported and served the same way."""


@app.command("list")
def list_cmd(
    family: str | None = typer.Option(None, help="only this family"),
    task: str | None = typer.Option(None, help="classify | regress | generate | control | few_shot | embed"),
    long: bool = typer.Option(False, "--long", "-l", help="add each model's description"),
    as_json: bool = typer.Option(
        False, "--json", help="a JSON list of {name, family, task, paradigm, presets, description}"
    ),
) -> None:
    """List registered models: one line each (name, family, paradigm, presets)."""
    import shutil
    import textwrap

    from dlzoo.registry import get_spec, list_models

    specs = [get_spec(name) for name in list_models(family=family, task=task)]
    if as_json:
        rows = [
            {
                "name": s.name,
                "family": s.family,
                "task": s.task,
                "paradigm": s.paradigm,
                "presets": list(s.presets),
                "description": s.description,
            }
            for s in specs
        ]
        print(json.dumps(rows, indent=2))
        return
    # plain text, never a console that wraps: the width of the terminal (80 in a pipe)
    width = shutil.get_terminal_size((80, 24)).columns
    rows = [("model", "family", "paradigm", "presets")]
    rows += [(s.name, s.family, s.paradigm, ", ".join(s.presets)) for s in specs]
    w = [max(len(row[i]) for row in rows) for i in range(3)]
    indent = sum(w) + 6
    lines = []
    for row in rows:
        head = f"{row[0]:<{w[0]}}  {row[1]:<{w[1]}}  {row[2]:<{w[2]}}  "
        presets = textwrap.wrap(row[3], max(20, width - indent - 1), break_on_hyphens=False) or [""]
        lines += [head + presets[0], *(" " * indent + more for more in presets[1:])]
        if long and row[0] != "model":
            spec = next(s for s in specs if s.name == row[0])
            lines += textwrap.wrap(spec.description, width - 1, initial_indent="    ", subsequent_indent="    ")
    print("\n".join(lines))


def _docstring_args(obj: Any) -> dict[str, str]:
    """``name: text`` entries of a Google-style ``Args:`` section (continuation lines joined)."""
    import inspect

    doc = inspect.getdoc(obj) or ""
    out: dict[str, str] = {}
    lines = doc.splitlines()
    if "Args:" not in (line.strip() for line in lines):
        return out
    start = [line.strip() for line in lines].index("Args:") + 1
    indent, current = None, None
    for line in lines[start:]:
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        indent = width if indent is None else indent
        if width < indent:  # the section ended (dedent: "Returns:", prose)
            break
        key, sep, text = line.strip().partition(":")
        if width == indent and sep and key.replace("_", "").isalnum():
            current, out[key] = key, text.strip()
        elif current is not None:
            out[current] += " " + line.strip()
    return out


#: builder arguments the paradigms fill from the data (tasks' ``data_facts``), described once here
DATA_ARGS = {
    "input_shape": "shape of one example, e.g. (1, 28, 28)",
    "in_features": "input dimension after flattening",
    "in_channels": "channels of one example (first axis of input_shape)",
    "num_classes": "number of classes",
    "out_features": "outputs per example (regression targets or classes)",
    "vocab_size": "tokens in the vocabulary",
    "block_size": "longest context in tokens",
    "obs_dim": "observation dimension of the environment",
    "n_actions": "discrete actions of the environment",
}


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _builder_docs(spec: Any) -> dict[str, str]:
    """``type; description`` of each builder argument.

    Descriptions come from the builder's ``Args:`` section, else the returned class's, else (for the
    arguments filled from the data) DATA_ARGS; the type from the builder's annotations."""
    import typing

    try:
        hints = typing.get_type_hints(spec.builder)
    except Exception:  # unresolvable annotations: docstrings only
        hints = {}
    docs: dict[str, str] = {}
    returned = hints.get("return")
    if isinstance(returned, type):
        docs.update(_docstring_args(returned))
        docs.update(_docstring_args(returned.__init__))
    docs.update(_docstring_args(spec.builder))
    out = {}
    for arg in spec.params():
        text = docs.get(arg) or DATA_ARGS.get(arg, "")
        kind = _type_name(hints[arg]) if arg in hints else ""
        out[arg] = "; ".join(filter(None, [kind, text]))
    return out


def _field_lines(section: str, schema: Any, values: dict[str, Any]) -> list[tuple[str, str]]:
    """(``section.key = value``, description) for every field of a pydantic schema."""
    return [
        (f"{section}.{key} = {values.get(key, field.default)!r}", field.description or "")
        for key, field in schema.model_fields.items()
    ]


@app.command()
def info(
    name: str = typer.Argument(..., help="model name (see `dlzoo list`)"),
    preset: str = typer.Option("default", help="preset whose values are shown"),
) -> None:
    """Show a model's presets and every setting of a preset, each with its description."""
    import inspect

    from dlzoo.config import resolve_config
    from dlzoo.data import dataset_params, list_datasets
    from dlzoo.registry import get_spec

    spec = get_spec(name)
    cfg = resolve_config(name, preset=preset)
    docs = _builder_docs(spec)
    model_lines = []
    for arg, default in spec.params().items():
        if default is inspect.Parameter.empty and arg not in cfg.model:
            shown = "required (filled from the data)"
        else:
            shown = repr(cfg.model.get(arg, default))
        model_lines.append((f"model.{arg} = {shown}", docs.get(arg, "")))
    objective = spec.objective
    data_args = cfg.data_args()
    if cfg.data["name"] in list_datasets():  # environments (RL) have no loader defaults
        data_args = {**dataset_params(cfg.data["name"]), **data_args}
    sections = [
        (f"model: arguments of {spec.name}()", model_lines),
        (f"data: {cfg.data['name']} (loader arguments)", [(f"data.{k} = {v!r}", "") for k, v in data_args.items()]),
        (f"task: {objective.__name__}.Config", _field_lines("task", objective.Config, cfg.task)),
        ("train: TrainConfig", _train_lines(spec.paradigm, cfg.train.model_dump())),
    ]
    out = [
        f"{spec.name} ({spec.family}, {spec.task}, {spec.paradigm}): {spec.description}",
        f"presets: {', '.join(spec.presets)} (values below: {preset!r}; change one with section.key=value)",
    ]
    width = max((len(left) for _, lines in sections for left, _ in lines), default=0)
    for title, lines in sections:
        out += ["", title]
        out += [f"  {left:<{width}}  # {text}" if text else f"  {left}" for left, text in lines]
    print("\n".join(out))


def _train_lines(paradigm: str, values: dict[str, Any]) -> list[tuple[str, str]]:
    """The train: fields with their descriptions; a field this paradigm does not read says what to set instead."""
    from dlzoo.config import TrainConfig
    from dlzoo.paradigms import PARADIGMS

    ignores = PARADIGMS[paradigm].ignores
    return [
        (f"train.{k} (not read)", f"{paradigm}: {ignores[k]}") if k in ignores else (left, text)
        for (left, text), k in zip(_field_lines("train", TrainConfig, values), TrainConfig.model_fields, strict=True)
    ]


@app.command(context_settings={"allow_extra_args": False})
def train(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="model name (see `dlzoo list`); with --config, the file's"),
    overrides: list[str] | None = typer.Argument(None, help="dotted overrides: train.lr=0.01 model.hidden=[64]"),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="a run config YAML (a run's config.yaml, `dlzoo nas export`'s best.yaml)"
    ),
    preset: str = typer.Option("default", "--preset", "-p", help="preset of the model (see `dlzoo info`)"),
    data: str | None = typer.Option(
        None,
        help="dataset (or environment) instead of the preset's: a registered loader, or a "
        "Planetoid graph / TU set / UCR set under DLZOO_DATA by name (resolved to --data planetoid|tudataset|ucr "
        "data.dataset=NAME); `cbf` is the generated Cylinder-Bell-Funnel, the archive's is --data ucr data.dataset=CBF",
    ),
    runs: Path = typer.Option(Path("runs"), help="root of the run directories"),
    run_name: str | None = typer.Option(None, "--name", help="run directory name (default: a timestamp)"),
    resume: bool = typer.Option(False, help="continue the run --name from its last checkpoint"),
) -> None:
    """Train a model; writes runs/<model>/<name>/ (config, metrics, weights, card, plots)."""
    from dlzoo.config import config_from_file, resolve_config
    from dlzoo.runs import RunDir, default_run_name
    from dlzoo.training.loop import summarize, train_run

    file_cfg = None
    if config is not None:
        if name is not None and "=" in name:  # `dlzoo train --config F train.lr=0.1`: the first override
            overrides, name = [name, *(overrides or [])], None
        if resume or data or preset != "default":
            _fail("--config gives the whole config: --preset, --data and --resume are not allowed with it")
        file_cfg = config_from_file(config, overrides=overrides or [])
        if name is not None and name != file_cfg.model_name:
            _fail(f"--config {config} trains {file_cfg.model_name!r}, not {name!r} (leave the model name out)")
        name = file_cfg.model_name
    elif name is None:  # click's own usage error, as when an argument is missing
        try:
            from typer._click.exceptions import UsageError
        except ImportError:
            from click.exceptions import UsageError
        raise UsageError("Missing argument 'name' (a model, see `dlzoo list`), or give --config FILE.", ctx=ctx)

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
    elif file_cfg is not None:
        cfg = file_cfg
    else:
        cfg = resolve_config(name, preset=preset, overrides=overrides or [], data=data)
        if "data_resolved" in cfg.info:  # --data NAME was a dataset inside a loader: say which
            err.print(cfg.info["data_resolved"], highlight=False, soft_wrap=True, markup=False)
    try:
        result = train_run(cfg, run, resume=resume)
    except KeyboardInterrupt:
        if run.checkpoint_path.is_file():
            where = "" if runs == Path("runs") else f" --runs {runs}"
            hint = f"resume with `dlzoo train {name} --resume --name {run_name}{where}`"
        else:
            hint = "no checkpoint was written yet, so there is nothing to resume"
        print(f"interrupted; {hint}", file=sys.stderr)
        raise typer.Exit(130) from None
    if int(os.environ.get("LOCAL_RANK", "0")) == 0 and int(os.environ.get("NODE_RANK", "0")) == 0:
        print(f"done {run.path}: {summarize(result)}")


@app.command("eval")
def eval_cmd(
    run: Path = typer.Argument(..., help="run directory"), split: str = typer.Option("test", help="test | val")
) -> None:
    """Re-evaluate a finished run from config.yaml + model.safetensors; prints JSON metrics."""
    from dlzoo.evaluate import evaluate_run

    if split not in ("test", "val"):
        _fail(f"unknown split {split!r}; valid: test, val")
    print(json.dumps(evaluate_run(run, split=split), indent=2))


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
        if path.suffix in (".npy", ".csv"):
            return _read_array(path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError):
            raise InputError(f"input file {source!r}: expected JSON text (or a .npy / .csv file)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"input is not valid JSON ({e})") from None
    return data["inputs"] if isinstance(data, dict) and "inputs" in data and not whole_body else data


def _read_array(path: Path) -> Any:
    """A .npy array of numbers (never unpickled) or a .csv of numbers, one example per row."""
    import numpy as np

    from dlzoo.inference import InputError

    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except Exception:  # numpy's message may suggest allow_pickle: never echoed
            array = None
        if not isinstance(array, np.ndarray) or not (
            np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
        ):
            raise InputError(
                f"input file '{path}': expected a .npy array of numbers (written by numpy.save), "
                "not object data or a damaged file"
            ) from None
        return array
    try:
        return np.loadtxt(path, delimiter=",", ndmin=2)
    except (ValueError, UnicodeDecodeError) as e:
        why = str(e).split(";")[0]
        raise InputError(
            f"input file '{path}': expected a CSV of numbers, the same number of columns on every row ({why})"
        ) from None


PREDICT_HELP = """Predict (classify/regress) or act (control) on inputs; prints JSON lines.

One compact JSON object per line. classify: first {"class_names": [...]} (the class list, once;
the label indices as text when the data has no names), then one {"label": i, "class_name": name,
"probabilities": [...]} per example. regress: {"prediction": value} per example. control:
{"action": a} per example. Models with requests of their own (graphs, text): their JSON answer, one line."""


@app.command(help=PREDICT_HELP)
def predict(
    run: Path = typer.Argument(..., help="run directory"),
    inputs: str = typer.Argument(..., help="a .json/.npy/.csv file of examples, or - for JSON on stdin"),
) -> None:
    from dlzoo import inference
    from dlzoo.runs import load_run

    loaded = load_run(run)
    own = "predict" in inference.requests_of(loaded.spec)  # a body of the family's own (strings, graphs)
    data = _read_input(inputs, whole_body=own)
    if own:
        lines = _answer_lines(inference.handle(loaded, "predict", data))
    elif loaded.spec.task == "control":
        lines = [{"action": a} for a in inference.act(loaded, data)]
    elif loaded.spec.task == "regress":
        lines = [{"prediction": y} for y in inference.predict(loaded, data)["predictions"]]
    else:
        result = inference.predict(loaded, data)
        n_classes = len(result["probabilities"][0]) if result["probabilities"] else 0
        names = loaded.config.info.get("class_names") or [str(i) for i in range(n_classes)]
        lines = [{"class_names": list(names)}]
        lines += [
            {"label": label, "class_name": names[label], "probabilities": [round(p, 6) for p in probs]}
            for label, probs in zip(result["labels"], result["probabilities"], strict=True)
        ]
    for line in lines:
        print(json.dumps(line), flush=True)


def _answer_lines(answer: Any) -> Any:
    """A family's answer as JSON-line objects: a dict is one line; a stream gives one per item
    (a string item is {"text": item}, as the server sends it)."""
    if isinstance(answer, dict):
        return [answer]
    return ({"text": item} if isinstance(item, str) else item for item in answer)


@app.command()
def sample(
    run: Path = typer.Argument(..., help="run directory of a generative model"),
    n: int | None = typer.Option(None, help="number of samples (default 64)"),
    seed: int | None = typer.Option(None, help="seed of the samples (default 0)"),
    out: Path = typer.Option(
        Path("samples.png"), help=".png (image grid, or scatter plot of 2-D points) or .npy array"
    ),
    request: str | None = typer.Option(
        None, help='language models etc.: the JSON request body (e.g. \'{"prompt": "ROMEO:", "max_new_tokens": 200}\')'
    ),
    as_json: bool = typer.Option(
        False, "--json", help="language models etc.: print the JSON answer (one object per line) instead of text"
    ),
    sampler: str | None = typer.Option(None, help="diffusion models: the sampler (ddpm, ddim, euler_maruyama, heun)"),
    steps: int | None = typer.Option(None, help="diffusion models: denoising steps"),
) -> None:
    """Draw samples from a generative model into a PNG grid or an .npy file.

    Language models print text to stdout: the prompt and each completion (several separated by a
    line of dashes), streamed as it is generated with "stream": true; --json prints the JSON answer."""
    from dlzoo import inference
    from dlzoo.runs import load_run

    loaded = load_run(run)
    own = inference.requests_of(loaded.spec).get("sample")
    if own is not None:  # the family's own request: print what it answers
        try:
            body = json.loads(request) if request else {}
        except json.JSONDecodeError as e:
            raise typer.BadParameter(f"is not valid JSON: {e}", param_hint="--request") from None
        if isinstance(body, dict):  # --n / --seed, when given, fill the body's fields of those names
            flags = {"n": n, "seed": seed, "sampler": sampler, "steps": steps}
            given = {k: v for k, v in flags.items() if v is not None and k in own.model_fields}
            body = {**given, **body}
        answer = inference.handle(loaded, "sample", body)
        if isinstance(answer, dict) and "samples" in answer and not as_json:  # tensors: saved like the tensor verb
            import torch

            x = torch.tensor(answer["samples"])
            _save_samples(x, out, title=f"{len(x)} samples, seed {body.get('seed', 0)}")
            return
        if as_json:
            for line in _answer_lines(answer):
                print(json.dumps(line), flush=True)
        else:
            schema = inference.requests_of(loaded.spec)["sample"]
            default = schema.model_fields["prompt"].default if "prompt" in schema.model_fields else ""
            _print_text(answer, prompt=str(body.get("prompt", default) if isinstance(body, dict) else default))
        return
    if sampler is not None or steps is not None:
        raise typer.BadParameter(f"{loaded.spec.name} takes no sampler or steps", param_hint="--sampler/--steps")
    n, seed = 64 if n is None else n, 0 if seed is None else seed
    _save_samples(inference.sample(loaded, n=n, seed=seed), out, title=f"{n} samples, seed {seed}")


def _save_samples(x: Any, out: Path, *, title: str) -> None:
    """Samples (n, ...) as an .npy array, or a PNG (image grid, or scatter plot of 2-D points)."""
    if out.suffix == ".npy":
        import numpy as np

        np.save(out, x.numpy())
    else:
        from dlzoo.plots import samples_plot

        try:
            samples_plot(x, out, title=title)
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--out") from None
    print(f"wrote {out}")


def _print_text(answer: Any, *, prompt: str) -> None:
    """A language model's answer as plain text on stdout: the prompt and each completion.

    One streamed sample is written character by character as it is generated; several streamed
    samples ({"sample": i, "text": c}, interleaved) are collected and written when they are done."""
    out, rule = sys.stdout, "\n" + "-" * 40 + "\n"
    if isinstance(answer, dict):
        texts = answer.get("completions")
        out.write(rule.join(prompt + c for c in texts) + "\n" if texts is not None else json.dumps(answer) + "\n")
        return
    out.write(prompt)
    parts: dict[int, list[str]] = {}
    for item in answer:
        if isinstance(item, str):
            out.write(item)
            out.flush()
        else:
            parts.setdefault(int(item.get("sample", 0)), []).append(str(item.get("text", "")))
    if parts:
        out.write(rule.join(("" if i == 0 else prompt) + "".join(chars) for i, chars in sorted(parts.items())))
    out.write("\n")


@app.command()
def export(
    run: Path = typer.Argument(..., help="run directory"),
    fmt: str = typer.Option("onnx", "--format", help="onnx | torchscript"),
    out: Path | None = typer.Option(None, help="output file (default: inside the run)"),
) -> None:
    """Export a run to ONNX or TorchScript and check parity against PyTorch."""
    from dlzoo.export import export_run

    report = export_run(run, fmt=fmt, out=out)
    print(f"wrote {report.path} (max |diff| vs PyTorch = {report.max_abs_diff:.2e})")


@app.command()
def serve(
    runs: Path = typer.Option(Path("runs"), help="folder of run directories to serve"),
    host: str = typer.Option(
        "127.0.0.1", help="address to listen on; a non-loopback one needs --api-key or --insecure"
    ),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, min=1, help="worker processes (uvicorn), each with its own copy of the models"),
    api_key: str | None = typer.Option(
        None, envvar="DLZOO_API_KEY", help="require Authorization: Bearer <key> (all but /healthz); or DLZOO_API_KEY"
    ),
    insecure: bool = typer.Option(False, "--insecure", help="allow a non-loopback --host without an API key"),
    max_batch: int = typer.Option(256, min=1, help="examples per forward pass of batched requests (1 = off)"),
    max_wait_ms: float = typer.Option(
        0.0, min=0, help="extra wait for a batch to fill (0 = adaptive: what queued while the last batch ran)"
    ),
    max_concurrency: int = typer.Option(32, min=1, help="requests per model answered at once"),
    max_queue: int = typer.Option(128, min=1, help="requests per model waiting for a slot (more: 503)"),
    queue_timeout_s: float = typer.Option(10.0, min=0.001, help="longest wait for a slot (then 503 + Retry-After)"),
    max_tokens: int = typer.Option(8192, min=1, help="language models: n x max_new_tokens per request (more: 422)"),
    max_sample_steps: int = typer.Option(4096, min=1, help="samplers: n x sampler steps per request (more: 422)"),
    max_body_bytes: int = typer.Option(8 * 2**20, min=1, help="largest request body (more: 413)"),
    body_timeout_s: float = typer.Option(
        10.0, min=0.001, help="time to send a request's headers, and its body (then 408 / closed)"
    ),
    runtime: str = typer.Option(
        "pytorch",
        help="predict of plain classifiers/regressors with an export/model.onnx (dlzoo export RUN): pytorch, "
        "onnx (onnxruntime), or fastest (time both on one example at load, serve the faster)",
    ),
) -> None:
    """Serve every finished run under --runs over HTTP (FastAPI; OpenAPI at /docs, metrics at /metrics)."""
    from dlzoo.extras import require

    require("uvicorn", extra="serve", feature="dlzoo serve")
    require("fastapi", extra="serve", feature="dlzoo serve")
    from dlzoo.serve.security import is_loopback
    from dlzoo.serve.settings import ServeSettings

    if not api_key and not insecure and not is_loopback(host):
        _fail(
            f"--host {host} can be reached from other machines and no API key is set: give --api-key "
            f"(or DLZOO_API_KEY), or --insecure to serve without one"
        )
    try:
        settings = ServeSettings(
            runs=str(runs),
            max_body_bytes=max_body_bytes,
            body_timeout_s=body_timeout_s,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            max_concurrency=max_concurrency,
            max_queue=max_queue,
            queue_timeout_s=queue_timeout_s,
            max_tokens=max_tokens,
            max_sample_steps=max_sample_steps,
            runtime=runtime,
            api_key=api_key or None,
        )
    except ValueError as e:
        _fail(str(e))
    if not runs.is_dir():
        _fail(f"{runs}: no such folder (give the folder that holds run directories, e.g. runs/)")
    from dlzoo.serve.server import run

    run(settings, host=host, port=port, workers=workers)


@app.command()
def bench(
    name: str | None = typer.Argument(None, help="benchmark script in benchmarks/ (without .py)"),
    table: bool = typer.Option(False, "--table", help="regenerate benchmarks/RESULTS.md and the README family table"),
    args: list[str] | None = typer.Option(None, "--arg", help="argument passed to the script"),
) -> None:
    """Run a benchmark (benchmarks/<name>.py), or regenerate benchmarks/RESULTS.md and the README table."""
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


def _add_nas() -> None:
    from dlzoo.search.cli import nas_app  # typer only: optuna is imported by each nas command

    app.add_typer(nas_app, name="nas")


_add_nas()


def main() -> None:
    try:
        code = app(standalone_mode=False)  # click returns the exit code of typer.Exit here
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("[red]aborted[/]")
        sys.exit(130)
    except _usage_errors() as e:  # a wrong option or argument: click's message and usage line
        e.show()
        sys.exit(e.exit_code)
    except Exception as e:
        # imported here, not before the command runs: --help, --version and usage errors stay instant
        if not isinstance(e, _known_errors()):
            raise
        err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        sys.exit(2)


def _usage_errors() -> type[Exception]:
    """click's usage-error base class: typer >= 0.20 vendors click as typer._click, older typer depends on click."""
    try:
        from typer._click.exceptions import ClickException
    except ImportError:
        from click.exceptions import ClickException
    return ClickException


if __name__ == "__main__":
    main()
