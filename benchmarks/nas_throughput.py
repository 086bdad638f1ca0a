"""Trials per hour with 1 and 2 workers sharing one SQLite study (`dlzoo nas run` processes).

    flock /tmp/dlzoo-bench.lock nice -n 5 python benchmarks/nas_throughput.py    # ~2 min
    python benchmarks/nas_throughput.py --smoke                                   # 10 s windows, nothing recorded

Each worker is `dlzoo nas run mlp_digits --strategy random --timeout T` on a fresh study (mlp on 8x8
digits, 10 epochs a trial, one torch thread); trials per hour = trials finished / wall time of the
slowest worker x 3600.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def measure(workers: int, window_s: float, folder: Path) -> tuple[float, int, float]:
    import optuna

    url = f"sqlite:///{folder / f'w{workers}.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "dlzoo.cli", "nas", "run", "mlp_digits", "--study", "tp", "--strategy", "random",
           "--trials", "100000", "--timeout", str(window_s), "--storage", url, "--dir", str(folder / f"w{workers}"),
           ]  # fmt: skip
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL) for _ in range(workers)]
    for p in procs:
        p.wait()
    wall = time.perf_counter() - t0
    study = optuna.load_study(study_name="tp", storage=url)
    done = sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials)
    return done / wall * 3600, done, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--window", type=float, default=45.0)
    a = ap.parse_args()
    window = 10.0 if a.smoke else a.window
    with tempfile.TemporaryDirectory() as tmp:
        results = {n: measure(n, window, Path(tmp)) for n in (1, 2)}
    for n, (rate, done, wall) in results.items():
        print(f"{n} worker(s): {done} trials in {wall:.0f} s -> {rate:.0f} trials/hour")
    if a.smoke:
        return
    from _record import record

    (r1, d1, w1), (r2, d2, w2) = results[1], results[2]
    record(
        "nas_throughput",
        key="mlp_digits",
        model="mlp_classifier",
        family="nas",
        dataset="digits (scikit-learn)",
        metric="trials/hour, 2 workers sharing one SQLite study",
        values=[round(r2, 1)],
        seeds=[0],
        wall_time_s=w1 + w2,
        split="validation accuracy ranks the trials (data.val_size=0.2)",
        reference=None,
        baselines=[
            {"name": "1 worker, same study setup", "value": round(r1, 1), "sd": None, "wall_time_s": round(w1, 1)}
        ],
        config={"space": "mlp_digits", "strategy": "random", "window_s": window, "storage": "sqlite"},
        notes=f"1 worker: {d1} trials in {w1:.0f} s; 2 workers: {d2} trials in {w2:.0f} s; speed-up {r2 / r1:.2f}x "
        "on 2 CPU cores shared with other jobs; each trial includes run-directory writes and plots",
    )


if __name__ == "__main__":
    main()
