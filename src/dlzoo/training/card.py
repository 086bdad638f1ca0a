"""card.md: what the model is, what data it saw, how well it did, how to use it."""

from __future__ import annotations

from typing import Any

from dlzoo.config import RunConfig
from dlzoo.registry import ModelSpec
from dlzoo.runs import RunDir, atomic_write_text

VERB = {
    "classify": "predict",
    "regress": "predict",
    "generate": "sample",
    "control": "act",
    "few_shot": "adapt",
    "embed": "embed",
}


def write_card(run: RunDir, spec: ModelSpec, cfg: RunConfig, result: dict[str, Any]) -> None:
    metrics = "\n".join(f"| {k} | {v:.6g} |" for k, v in result.items() if "/" in k and isinstance(v, float))
    info = "\n".join(f"- {k}: {_short(v)}" for k, v in cfg.info.items() if v not in (None, [], {}))
    cpu = result.get("hardware", {}).get("cpu")
    sel = result.get("selection")
    selection = (
        f"- weights of round {sel['kept_round']} of {sel['last_round'] + 1} rounds: {sel['kept_reason']}"
        + (f"; stopped early: {sel['stop_reason']}" if sel.get("stopped_early") else "")
        + "\n"
        if sel
        else ""
    )
    text = f"""# {spec.name} ({spec.family})

{spec.description}

- task: {spec.task}, paradigm: {spec.paradigm}, preset: {cfg.preset}
- data: {cfg.data["name"]} ({result.get("dataset_version")}), evaluated on split `{result.get("split")}`
- seed {result.get("seed")}, {result.get("steps")} steps, {result.get("wall_time_s")} s on {cpu}
{selection}
## Data
{info}

## Metrics
| metric | value |
|---|---|
{metrics}

Definitions: see `src/dlzoo/families/{spec.family}/README.md`.

## Use
```
dlzoo eval {run.path}
dlzoo export {run.path} --format onnx
dlzoo serve --runs {run.path.parent.parent}   # POST /v1/models/<name>/{_verb(spec)}
```
Weights: `model.safetensors`; the architecture is rebuilt from `config.yaml`.
"""
    atomic_write_text(run.card_path, text)


def _verb(spec: ModelSpec) -> str:
    verbs = [*spec.pipeline.requests, *spec.pipeline.verbs]  # a body of its own first (prompts, graphs)
    return verbs[0] if verbs else VERB[spec.task]


def _short(value: Any, limit: int = 200) -> str:
    """One markdown line: strings with control characters (a vocabulary's newline) are quoted, long
    values (vocabularies, class lists) cut."""
    text = repr(value) if isinstance(value, str) and not value.isprintable() else str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."
