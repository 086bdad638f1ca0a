"""Train one registered model over several seeds through dlzoo's own loop (shared by the benchmarks).

runs = train_seeds("lenet", preset="mnist", overrides=["train.epochs=12"], seeds=3, threads=1)
runs.test, runs.val, runs.loop_s, runs.total_s, runs.cfg   # per seed; cfg of the last seed
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from dlzoo.config import resolve_config
from dlzoo.runs import RunDir
from dlzoo.training.loop import train_run


@dataclass
class SeedRuns:
    test: list[float] = field(default_factory=list)  # test/<metric> per seed
    val: list[float] = field(default_factory=list)  # last val/<metric> per seed (nan without a val split)
    loop_s: list[float] = field(default_factory=list)  # the loop's training time (eval.json wall_time_s)
    total_s: list[float] = field(default_factory=list)  # + data loading, the test evaluation and plots
    cfg: Any = None  # the resolved config of the last seed (data facts under cfg.info)


def train_seeds(
    model: str, *, preset: str, overrides: list[str], seeds: int, threads: int, metric: str = "accuracy"
) -> SeedRuns:
    """``train_run`` of ``model --preset preset`` with train.seed = 0..seeds-1 and train.threads = ``threads``
    (the caller's torch.set_num_threads) in a temporary folder."""
    runs = SeedRuns()
    with tempfile.TemporaryDirectory(prefix=f"dlzoo-{model}-") as tmp:
        for seed in range(seeds):
            runs.cfg = resolve_config(
                model,
                preset=preset,
                overrides=[*overrides, f"train.seed={seed}", f"train.threads={threads}", "train.progress=false"],
            )
            run = RunDir.create(tmp, model, f"seed{seed}")
            t0 = time.perf_counter()
            result = train_run(runs.cfg, run)
            runs.total_s.append(time.perf_counter() - t0)
            rows = [r for r in run.read_metrics() if f"val/{metric}" in r]
            runs.val.append(rows[-1][f"val/{metric}"] if rows else float("nan"))
            runs.test.append(result[f"test/{metric}"])
            runs.loop_s.append(result["wall_time_s"])
            curve = " ".join(f"{r[f'val/{metric}']:.4f}" for r in rows)
            print(
                f"seed {seed}: test/{metric} {runs.test[-1]:.4f}  val/{metric} {runs.val[-1]:.4f}  "
                f"loop {runs.loop_s[-1]:.0f} s  total {runs.total_s[-1]:.0f} s\n  val curve: {curve}",
                flush=True,
            )
    return runs
