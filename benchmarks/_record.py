"""One JSON record per benchmark result in benchmarks/results/ (the README table is made from them).

    from _record import record, Timer
    record("tabular", model="mlp_classifier", family="mlp", dataset="digits", dataset_version=...,
           split="test: stratified 80/20, split_seed=0", metric="test/accuracy", values=[...], seeds=[...],
           wall_time_s=..., reference={"value": 0.977, "source": "..."}, baselines=[{...}], config={...})

A record: benchmark, family, model, dataset, dataset_version, split, metric, value (mean), sd, values,
seeds, higher_is_better, reference {value, source}, baselines [{name, value, sd, wall_time_s, ...}],
wall_time_s (per seed, mean), hardware, command, date, config, notes. ``key`` names the file.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dlzoo.hardware import BF16_ISA, cpu_model, hardware

RESULTS = Path(__file__).resolve().parent / "results"


def mean_sd(values: list[float]) -> tuple[float, float]:
    return float(statistics.fmean(values)), float(statistics.stdev(values)) if len(values) > 1 else 0.0


def machine_tag() -> str:
    """The CPU in a file name, for records that measure the machine itself (bf16 against fp32):
    'amd-epyc-avx512_bf16', 'intel-xeon-amx_bf16'. Such records of two machines never replace each other."""
    name, isa = cpu_model()
    words = re.sub(r"\((R|TM)\)|\bProcessor\b|\bCPU\b|@.*", " ", name).lower().split()
    native = [f for f in BF16_ISA if f in isa] or ["no-native-bf16"]
    return "-".join([*words[:2], *native]) or "unknown-cpu"


def git_commit() -> str | None:
    try:
        return subprocess.check_output(
            ["git", "rev-parse", "--short", "HEAD"], text=True, stderr=subprocess.DEVNULL, cwd=RESULTS.parent
        ).strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def record(
    benchmark: str,
    *,
    key: str,
    model: str,
    family: str,
    dataset: str,
    metric: str,
    values: list[float],
    seeds: list[int],
    wall_time_s: float,
    split: str,
    dataset_version: str | None = None,
    higher_is_better: bool = True,
    reference: dict[str, Any] | None = None,
    baselines: list[dict[str, Any]] | None = None,
    config: dict[str, Any] | None = None,
    notes: str = "",
    extra: dict[str, Any] | None = None,
    precision: str | None = None,
) -> Path:
    """Write benchmarks/results/<benchmark>-<key>.json and return its path.

    ``precision`` is what our side computed in: given, else the config's ``train.precision``, else 32-true."""
    value, sd = mean_sd(values)
    train = (config or {}).get("train") or {}
    rec = {
        "benchmark": benchmark,
        "family": family,
        "model": model,
        "dataset": dataset,
        "dataset_version": dataset_version,
        "split": split,
        "metric": metric,
        "value": value,
        "sd": sd,
        "values": values,
        "seeds": seeds,
        "higher_is_better": higher_is_better,
        "reference": reference,
        "baselines": baselines or [],
        "wall_time_s": wall_time_s,
        "hardware": {**hardware(), "precision": precision or train.get("precision", "32-true")},
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "commit": git_commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config or {},
        "notes": notes,
        **(extra or {}),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{benchmark}-{key}.json"
    path.write_text(json.dumps(rec, indent=2) + "\n")
    print(f"recorded {path.name}: {metric} = {value:.4g} ± {sd:.2g} (n={len(values)})")
    return path


class Timer:
    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.t0
