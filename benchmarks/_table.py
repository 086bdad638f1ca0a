"""Generate benchmarks/RESULTS.md and README.md's family table from benchmarks/results/*.json.

    python benchmarks/_table.py        # or: dlzoo bench --table

RESULTS.md: a section per family, one row per configuration. README.md: the part between
<!-- families:begin --> and <!-- families:end --> (one headline result per family, HEADLINES below).
A record's text fields are printed as they are: sources must name papers or repositories.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- families:begin -->", "<!-- families:end -->"

#: family -> the record (file stem in benchmarks/results/) that is its one headline result in README.md
HEADLINES = {
    "mlp": "mnist_mlp-mlp_classifier",
    "cnn": "mnist_cnn-lenet",
    "resnet": "degradation-residual",
    "rnn": "sunspots-rnn_forecaster-lstm",
    "gnn": "gnn_cora-gcn",
    "transformer": "nanogpt_shakespeare-shakespeare_cpu",
    "autoencoder": "vae_mnist-nll",
    "deconv": "superres-x2-shuffle_icnr",
    "gan": "gan_mnist-dcgan-fid",
    "energy": "rbm_mnist-rbm25-exact",
    "rl": "dqn_cartpole-default-return",
    "meta": "meta_omniglot-protonet_lake-lake20",
    "flow": "flow_toy2d-nsf-moons",
    "nas": "nas_tabular-evolution",
    "diffusion": "diffusion_toy2d-ring-hq",
    "continual": "continual_split_mnist-class-cl_replay",
    "ssl": "ssl_mnist-simclr-probe",
}
#: the families in the order of the design (families without records or models are left out)
ORDER = [
    "mlp",
    "cnn",
    "deconv",
    "rnn",
    "resnet",
    "gnn",
    "gan",
    "energy",
    "autoencoder",
    "flow",
    "diffusion",
    "transformer",
    "ssl",
    "meta",
    "continual",
    "rl",
    "nas",
]
#: baselines that are bounds or were measured elsewhere: listed in RESULTS.md, never "the best baseline here"
NOT_COMPETITORS = ("another machine", "not this one", "real floor")
PAREN = r" \("  # where a baseline's short name ends


def fmt(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.4g}" if abs(v) < 1000 else f"{v:,.0f}"


def cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def load(root: Path = ROOT) -> list[dict[str, Any]]:
    recs = []
    for p in sorted((root / "benchmarks" / "results").glob("*.json")):
        rec = json.loads(p.read_text())
        rec["_file"] = p.name
        recs.append(rec)
    return recs


def preset_and_overrides(rec: dict) -> str:
    """The preset and the config overrides (``key=value``) of the record's command and of the record."""
    preset = rec.get("preset") or (rec.get("config") or {}).get("preset")
    items = [t for t in shlex.split(rec.get("command", "")) if "=" in t and not t.startswith("-")]
    items += [o for o in rec.get("overrides") or [] if o not in items and not o.startswith("train.progress")]
    return " ".join(filter(None, [f"`{preset}`" if preset else "", *(f"`{t}`" for t in items)])) or "–"


#: benchmarks whose result is a property of the machine (bf16 against fp32 on this CPU)
MACHINE_BOUND = {"bf16_speed", "precision_table"}


def configuration(rec: dict) -> tuple:
    """What makes two records the same configuration (the seeds and the date do not)."""
    config = json.loads(json.dumps(rec.get("config") or {}))
    if isinstance(config.get("train"), dict):
        config["train"].pop("seed", None)
    key = (rec["benchmark"], rec["model"], rec["dataset"], rec["metric"], rec.get("split"), rec.get("preset"))
    if rec["benchmark"] in MACHINE_BOUND:  # what they measure is the CPU: one machine's never replaces another's
        key += (rec["hardware"].get("cpu"), tuple(rec["hardware"].get("isa") or ()))
    return (*key, json.dumps(rec.get("overrides") or [], sort_keys=True), json.dumps(config, sort_keys=True))


def newest_per_configuration(recs: list[dict]) -> tuple[list[dict], list[tuple[dict, dict]]]:
    """(the newest record of each configuration, [(older record, the record that replaces it)])."""
    groups: dict[tuple, list[dict]] = {}
    for rec in recs:
        groups.setdefault(configuration(rec), []).append(rec)
    shown, older = [], []
    for group in groups.values():
        group.sort(key=lambda r: r.get("date") or "")
        shown.append(group[-1])
        older += [(r, group[-1]) for r in group[:-1]]
    return shown, older


def fmt_sd(v: float | None) -> str:
    return "–" if v is None else f"{v:.2g}" if abs(v) < 100 else f"{v:,.0f}"


def ours(rec: dict) -> str:
    return f"**{fmt(rec['value'])}** ± {fmt_sd(rec['sd'])} ({len(rec['values'])})"


def short(text: str, *, cut: str = r";|:|\(", width: int = 80) -> str:
    """The head of a long source or baseline name, for the README's one-line-per-family table."""
    head = re.split(cut, text, maxsplit=1)[0].strip().rstrip(",")
    while len(head) > width and ", " in head:
        head = head.rsplit(", ", 1)[0]
    return head


def reference(rec: dict) -> str:
    ref = rec.get("reference") or {}
    return f"{fmt(ref.get('value'))} ({cell(ref.get('source', ''))})" if ref else "–"


def baseline(b: dict) -> str:
    return (
        f"{cell(b['name'])}: {fmt(b.get('value'))}"
        + (f" ± {fmt_sd(b['sd'])}" if b.get("sd") is not None else "")
        + (f", {fmt(b['wall_time_s'])} s" if b.get("wall_time_s") is not None else "")
    )


def best_baseline(rec: dict) -> dict | None:
    """The best baseline measured on this machine (by the record's direction), or None."""
    here = [
        b
        for b in rec.get("baselines", [])
        if b.get("value") is not None and not any(s in b["name"] for s in NOT_COMPETITORS)
    ]
    if not here:
        return None
    pick = max if rec.get("higher_is_better", True) else min
    return pick(here, key=lambda b: b["value"])


def hardware(rec: dict) -> str:
    hw = rec.get("hardware", {})
    threads = hw.get("torch_threads")
    text = f"{hw.get('cpu', '?')}, {threads} thread{'s' if threads != 1 else ''} of {hw.get('cores', '?')} cores"
    if hw.get("torch_cpu_capability"):  # the kernels PyTorch dispatched (records since the hardware module)
        text += f", {hw['torch_cpu_capability']} kernels"
    isa = hw.get("isa", [])
    native_bf16 = [name for flag, name in (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512-BF16")) if flag in isa]
    if native_bf16:
        text += f" ({'/'.join(native_bf16)})"
    if hw.get("precision"):  # records since precision was recorded
        text += f", {hw['precision']}"
    return text + (f", {hw['gpu']}" if hw.get("gpu") else "")


def row(rec: dict) -> str:
    base = "; ".join(baseline(b) for b in rec.get("baselines", [])) or "–"
    return (
        f"| {cell(rec['model'])} | {cell(rec['dataset'])} | {cell(rec['metric'])} | {preset_and_overrides(rec)} "
        f"| {ours(rec)} | {reference(rec)} | {base} | {fmt(rec['wall_time_s'])} s | {cell(hardware(rec))} "
        f"| [{rec['_file'][:-5]}](results/{rec['_file']}) |"
    )


HEADER = """\
# Benchmark results

Generated by `python benchmarks/_table.py` (or `dlzoo bench --table`) from the JSON records in
[`benchmarks/results/`](results/); edit the records or the generator, not this page. Each record holds
the seeds and per-seed values, the command, the resolved config, the dataset version and split,
the wall time and the hardware. A benchmark is run with `DLZOO_DATA=<data folder> python
benchmarks/<name>.py` (or `dlzoo bench <name>`); benchmarks are not tests.

- **dlzoo**: mean ± sample sd over seeds (number of seeds, or folds, in brackets).
- **published / target**: the number the run is compared with and its source (paper, repository or the
  measurement it comes from); `–` where no number is published (the source then says what is expected).
- **baselines**: other implementations or simple methods measured on the same machine in the same run,
  value and wall time, unless their name says otherwise.
- **wall time / seed**: seconds of training per seed (what the record's notes say is timed). Most runs
  shared a 2-core machine with other jobs, so wall times are upper bounds; ratios measured in one run
  (dlzoo against a baseline, interleaved) are the comparison to trust.
- **One row per configuration** (benchmark, model, data, metric, split, preset, overrides, config):
  where a configuration was recorded more than once, the row shows the newest record and the older
  ones are listed under the family's table, marked "superseded" (a rerun of the same seeds) or
  "other seeds" (more seeds of the same configuration, still valid).
"""


def results_page(recs: list[dict], *, families_with_readme: set[str]) -> str:
    shown, older = newest_per_configuration(recs)
    families = sorted({r["family"] for r in shown}, key=lambda f: (ORDER.index(f) if f in ORDER else len(ORDER), f))
    out = [HEADER, "Families: " + ", ".join(f"[{f}](#{f})" for f in families) + ".", ""]
    head = (
        "| model | data | metric | preset / overrides | dlzoo | published / target | baselines | wall time / seed "
        "| hardware | record |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    for fam in families:
        out += [f"## {fam}", ""]
        if fam in families_with_readme:
            out += [f"Theory, recipe and discussion: [families/{fam}](../src/dlzoo/families/{fam}/README.md).", ""]
        rows = sorted(
            (r for r in shown if r["family"] == fam),
            key=lambda r: (r["benchmark"], r["model"], r["dataset"], r["metric"], r["_file"]),
        )
        out += [head, *(row(r) for r in rows), ""]
        for old, new in (pair for pair in older if pair[0]["family"] == fam):
            other_seeds = not set(old["seeds"]) & set(new["seeds"])
            what = "other seeds of" if other_seeds else "superseded by"
            out.append(
                f"- [{old['_file'][:-5]}](results/{old['_file']}) ({old.get('date', '?')[:10]}, "
                f"seeds {', '.join(map(str, old['seeds']))}): {fmt(old['value'])} ± {fmt_sd(old['sd'])}; "
                f"the same configuration as `{new['_file'][:-5]}` (seeds {', '.join(map(str, new['seeds']))}), "
                f"{what} it."
            )
        if any(pair[0]["family"] == fam for pair in older):
            out.append("")
    return "\n".join(out).rstrip() + "\n"


RUNTIMES = ("eager fp32", "eager bf16", "TorchScript", "ONNX Runtime")


def inference_table(recs: list[dict]) -> str:
    """One table of ``inference_speed`` records: latency (batch 1) and throughput per runtime, per machine."""
    shown, _ = newest_per_configuration([r for r in recs if r["benchmark"] == "inference_speed"])
    if not shown:
        return ""
    out = [
        "## Inference speed: eager fp32, eager bf16, TorchScript, ONNX Runtime",
        "",
        "Generated from the `inference_speed` records (`benchmarks/inference_speed.py`): each servable model built "
        "from its canonical preset, inputs from its paradigm, one thread. Per runtime: median latency of a batch "
        "of 1 (ms) / throughput at the record's batch (examples/s; nodes for node-level graph models). The "
        "fastest latency of each row is in bold. Machines differ between records: compare within a row.",
        "",
        "| model | preset | params | " + " | ".join(RUNTIMES) + " | hardware |",
        "|---|---|---|" + "---|" * len(RUNTIMES) + "---|",
    ]
    for r in sorted(shown, key=lambda r: (ORDER.index(r["family"]) if r["family"] in ORDER else 99, r["model"])):
        rt = r.get("runtimes", {})
        lat = {k: v["p50_ms_batch1"] for k, v in rt.items() if "p50_ms_batch1" in v}
        best = min(lat, key=lat.get) if lat else None
        cells = []
        for k in RUNTIMES:
            v = rt.get(k, {})
            if "p50_ms_batch1" not in v:
                cells.append(cell(v.get("error", "–")))
                continue
            text = f"{v['p50_ms_batch1']:.3g} ms / {fmt(v['examples_per_s'])}"
            cells.append(f"**{text}**" if k == best else text)
        out.append(
            f"| {r['model']} | {r['config'].get('preset', '?')} | {fmt(r.get('params'))} | "
            + " | ".join(cells)
            + f" | {cell(hardware(r))} |"
        )
    return "\n".join(out) + "\n"


def precision_section(recs: list[dict]) -> str:
    """One table of ``precision_table`` records: fp32 against bf16-mixed training, per family and machine."""
    shown, _ = newest_per_configuration([r for r in recs if r["benchmark"] == "precision_table"])
    if not shown:
        return ""
    out = [
        "## Training precision: fp32 against bf16-mixed",
        "",
        "Generated from the `precision_table` records (`benchmarks/precision_table.py`): each family's canonical "
        "preset at a cut budget (the record's overrides), trained twice per seed through dlzoo's loop, "
        "`train.precision=32-true` and `bf16-mixed`, alternating which goes first, one thread. The speed-up is by "
        "CPU time (process time: the work done, whatever else shared the machine). Machines differ between rows.",
        "",
        "| family | model | preset / budget | metric | fp32 | bf16-mixed | CPU s fp32 / bf16 | speed-up | hardware |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(shown, key=lambda r: (ORDER.index(r["family"]) if r["family"] in ORDER else 99, r["_file"])):
        bf16 = r["baselines"][0]
        budget = " ".join(r["config"].get("overrides") or []) or "the preset"
        out.append(
            f"| {r['family']} | {r['model']} | `{r['config'].get('preset', '?')}` {cell(budget)} | {r['metric']} | "
            f"{fmt(r['value'])} ± {fmt_sd(r['sd'])} ({len(r['values'])}) | "
            f"{fmt(bf16['value'])} ± {fmt_sd(bf16['sd'])} | "
            f"{r['cpu_time_s']:.1f} / {bf16['cpu_time_s']:.1f} | {r['speedup_cpu']:.2f}x | "
            f"{cell(hardware(r))} |"
        )
    return "\n".join(out) + "\n"


def family_table(recs: list[dict]) -> str:
    """README.md's family table: models and paradigms from the registry, one headline record each."""
    from dlzoo.registry import get_spec, list_models

    by_stem = {r["_file"][:-5]: r for r in recs}
    specs = [get_spec(n) for n in list_models()]
    families = sorted({s.family for s in specs}, key=lambda f: (ORDER.index(f) if f in ORDER else len(ORDER), f))
    lines = [
        "| family | models | paradigm | headline: data, metric | dlzoo | published / target | "
        "best baseline here |\n|---|---|---|---|---|---|---|"
    ]
    for fam in families:
        mine = [s for s in specs if s.family == fam]
        models = ", ".join(f"`{s.name}`" for s in mine)
        paradigms = ", ".join(dict.fromkeys(s.paradigm for s in mine))
        name = f"[{fam}](src/dlzoo/families/{fam}/README.md)"
        rec = by_stem.get(HEADLINES.get(fam, ""))
        if rec is None:
            lines.append(f"| {name} | {models} | {paradigms} | – | – | – | – |")
            continue
        ref = rec.get("reference") or {}
        published = f"{fmt(ref.get('value'))} ({cell(short(ref['source']))})" if ref.get("value") is not None else "–"
        best = best_baseline(rec)
        best_txt = f"{fmt(best['value'])} ({cell(short(best['name'], cut=PAREN, width=50))})" if best else "–"
        lines.append(
            f"| {name} | {models} | {paradigms} | {cell(rec['dataset'])}, `{rec['metric']}` | {ours(rec)} "
            f"| {published} | {best_txt} |"
        )
    return "\n".join(lines)


def main(root: Path = ROOT) -> None:
    recs = load(root)
    with_readme = {p.parent.name for p in (root / "src" / "dlzoo" / "families").glob("*/README.md")}
    sections = ("inference_speed", "precision_table")  # each its own table below the families' tables
    page = results_page([r for r in recs if r["benchmark"] not in sections], families_with_readme=with_readme)
    for extra in (inference_table(recs), precision_section(recs)):
        page += f"\n{extra}" if extra else ""
    (root / "benchmarks" / "RESULTS.md").write_text(page)
    readme = root / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md lacks the markers {BEGIN} ... {END}")
    table = family_table(recs)
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: f"{BEGIN}\n{table}\n{END}", text, flags=re.S)
    readme.write_text(new)
    n_rows = sum(line.startswith("| ") and not line.startswith("| model") for line in page.splitlines())
    print(f"benchmarks/RESULTS.md: {n_rows} rows from {len(recs)} records; README.md: {len(table.splitlines()) - 2}")


if __name__ == "__main__":
    main()
