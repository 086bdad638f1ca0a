"""Regenerate the README's results table from benchmarks/results/*.json.

    python benchmarks/_table.py        # or: dlzoo bench --table

Rewrites the part of README.md between the markers <!-- results:begin --> and <!-- results:end -->.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def fmt(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.4g}" if abs(v) < 1000 else f"{v:,.0f}"


def overrides(rec: dict) -> str:
    """The config overrides (``key=value``) of the record's command, so variants of one preset differ."""
    return " ".join(f"`{t}`" for t in shlex.split(rec.get("command", "")) if "=" in t and not t.startswith("-"))


def row(rec: dict) -> str:
    ours = f"**{fmt(rec['value'])}** ± {fmt(rec['sd'])} (n={len(rec['values'])})"
    ref = rec.get("reference") or {}
    ref_txt = f"{fmt(ref.get('value'))} ({ref.get('source', '')})" if ref else "–"
    base = (
        "; ".join(
            f"{b['name']}: {fmt(b.get('value'))}"
            + (f" ± {fmt(b['sd'])}" if b.get("sd") is not None else "")
            + (f", {fmt(b['wall_time_s'])} s" if b.get("wall_time_s") is not None else "")
            for b in rec.get("baselines", [])
        )
        or "–"
    )
    hw = rec.get("hardware", {})
    where = f"{hw.get('cores', '?')} cores" + (f", {hw['gpu']}" if hw.get("gpu") else "")
    model = " ".join(filter(None, [rec["model"], overrides(rec)]))
    return (
        f"| {rec['family']} | {model} | {rec['dataset']} | {rec['metric']} | {ours} | {ref_txt} | "
        f"{base} | {fmt(rec['wall_time_s'])} s ({where}) |"
    )


def table() -> str:
    recs = [json.loads(p.read_text()) for p in sorted((ROOT / "benchmarks" / "results").glob("*.json"))]
    recs.sort(key=lambda r: (r["family"], r["benchmark"], r["model"], r["dataset"], r["metric"]))
    head = (
        "| family | model | data | metric | dlzoo (mean ± sd) | published / target "
        "| baselines, same machine | wall time / seed |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    return "\n".join([head, *(row(r) for r in recs)])


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md lacks the markers {BEGIN} ... {END}")
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: f"{BEGIN}\n{table()}\n{END}", text, flags=re.S)
    readme.write_text(new)
    print(f"README.md results table: {len(table().splitlines()) - 2} rows")


if __name__ == "__main__":
    main()
