"""The serving errors' words: a request body's NaN/Infinity literals, and pydantic's validation errors
turned into one line that says where, what was expected and what came (``describe_validation``), with
the body a verb takes spelled out (``expected_body``). Pure functions; app.py raises them as 422s."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from pydantic import BaseModel


def nonfinite_literal(body: bytes) -> str | None:
    """A message if the body is JSON with a NaN/Infinity literal (not inside a string), else None."""

    def refuse(token: str) -> Any:
        raise _Nonfinite(token)

    try:
        json.loads(body, parse_constant=refuse)
    except _Nonfinite as e:
        return (
            f"request body is not standard JSON: found the literal {e.args[0]}; JSON has no NaN or "
            f"Infinity, send finite numbers"
        )
    except ValueError:  # not JSON at all: the app's own validation says so
        return None
    except RecursionError:  # json.loads recurses once per [ or {: a body nested past Python's stack
        return (
            f"request body is nested too deeply to parse (over about {sys.getrecursionlimit()} levels of [ or {{); "
            f"expected a JSON object whose inputs are nested a few levels, as the model's input shape"
        )
    return None


class _Nonfinite(ValueError):
    pass


# -- validation errors in one line --------------------------------------------------------------


def describe_validation(errors: list[dict[str, Any]], *, expected: str = "") -> str:
    """pydantic's error list -> 'where: what was expected, got what'; union noise is collapsed."""
    parts: list[str] = []
    # a body typed "tensor request | a family's own body" reports each union member; keep their errors
    errors = [{**e, "loc": tuple(p for p in e["loc"] if p not in _UNION_TAGS)} for e in errors]
    inputs = [e for e in errors if tuple(e["loc"][:2]) == ("body", "inputs")]
    if inputs:
        depth = max(_depth(e) for e in inputs)
        deepest = [e for e in inputs if _depth(e) == depth]
        e = next((e for e in deepest if e["type"] in ("finite_number", "missing")), deepest[0])
        where = "inputs" + "".join(f"[{p}]" for p in e["loc"][2:] if isinstance(p, int))
        if e["type"] == "missing":
            parts.append(f"{where}: required: numbers in nested lists{expected}")
        elif e["type"] == "finite_number":
            parts.append(f"{where}: expected a finite number, got {_short(e.get('input'))}")
        else:
            parts.append(f"{where}: expected numbers in nested lists{expected}, got {_short(e.get('input'))}")
    for e in errors:
        if e in inputs:
            continue
        loc = ".".join(str(p) for p in e["loc"] if p != "body")
        if e["type"] == "json_invalid":
            parts.append(f"request body is not valid JSON ({e.get('ctx', {}).get('error', e['msg'])})")
        elif e["type"] == "missing" and not loc:
            parts.append("request body is required: a JSON object sent with Content-Type: application/json")
        elif e["type"] in ("model_attributes_type", "dict_type") and not loc:
            if isinstance(e.get("input"), (bytes, str)):  # a body FastAPI did not parse: not declared JSON
                parts.append("request body must be a JSON object sent with Content-Type: application/json")
            else:
                parts.append(f"request body must be a JSON object, got {_short(e.get('input'))}")
        elif e["type"] == "extra_forbidden":
            parts.append(f"{loc}: unknown field")
        else:
            got = "" if e["type"] == "missing" else f", got {_short(e.get('input'))}"
            parts.append(f"{loc or 'body'}: {_CLASS_NAME.sub('a JSON object', e['msg'])}{got}")
    return "; ".join(dict.fromkeys(parts)) or "invalid request"


# pydantic names the schema class ("a valid dictionary or instance of GraphIn"): say what JSON wants
_CLASS_NAME = re.compile(r"a valid dictionary( or instance of \w+)?")


def expected_body(schema: type[BaseModel], *, shape: list[int] | None = None) -> str:
    """The body a verb takes, in words: its fields (required, or their default) and an example.

    ``expected body {"nodes": [...]}: nodes (required), e.g. {"nodes": [0, 1, 2]}``
    """
    fields, example = [], {}
    optional_only = not any(f.is_required() for f in schema.model_fields.values())
    for name, f in schema.model_fields.items():
        if f.is_required():
            need = "required"
            if name == "inputs" and shape:
                dims = ", ".join(map(str, shape))
                need += f": numbers of shape (batch, {dims}) or ({dims})"
            fields.append(f"{name} ({need})")
        else:
            fields.append(f"{name} (default {json.dumps(f.get_default(call_default_factory=True))})")
        if f.is_required() or (optional_only and f.get_default() is not None):
            example[name] = _example_value(name, f, shape)
    return f"expected a JSON object with {', '.join(fields)}, e.g. {_abridged(example)}"


def _abridged(value: Any) -> str:
    """JSON, with lists longer than 4 items shown as their first 3 and a count (a 64-pixel example)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_abridged(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        if len(value) > 4:
            return "[" + ", ".join(_abridged(v) for v in value[:3]) + f", ... ({len(value)} items)]"
        return "[" + ", ".join(_abridged(v) for v in value) + "]"
    return json.dumps(value)


def _example_value(name: str, f: Any, shape: list[int] | None) -> Any:
    """An example value of a field: one of the model's input shape, its declared example, its default,
    or one built from its type (nested objects with their required fields and those with examples)."""
    if name == "inputs" and shape:
        value: Any = 0.0
        for d in reversed(shape):
            value = [value] * d
        return [value]
    if f.examples:
        return f.examples[0]
    if not f.is_required():
        return f.get_default(call_default_factory=True)
    annotation, args = f.annotation, getattr(f.annotation, "__args__", ())
    item = args[0] if getattr(annotation, "__origin__", None) is list and args else None
    for cls, wrap in ((annotation, False), (item, True)):
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            fields = cls.model_fields.items()
            inner = {k: _example_value(k, g, None) for k, g in fields if g.is_required() or g.examples}
            return [inner] if wrap else inner
    return "..."


_UNION_TAGS = {"InputsRequest", "SampleRequest", "dict[str,any]"}


def _depth(e: dict[str, Any]) -> int:
    return sum(isinstance(p, int) for p in e["loc"])


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
