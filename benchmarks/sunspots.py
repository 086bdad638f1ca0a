"""Yearly sunspots, one step ahead: ``rnn_forecaster`` (LSTM) against ARIMA and (seasonal) naive, by MASE.

    flock /tmp/dlzoo-bench.lock python benchmarks/sunspots.py --seeds 5
    python benchmarks/sunspots.py --seeds 1 --no-record model.cell=gru          # a try

Data: statsmodels' yearly mean sunspot numbers 1700-2008 (``sunspots`` loader): each target year
is predicted from the previous ``window`` years; targets 1959-2008 are test, 1929-1958 val (used to
choose the preset), the rest train. MASE is scaled by the in-sample MAE of the naive forecast
y_t = y_{t-1} on the training targets (Hyndman & Koehler 2006; m = 1, as M4 does for yearly data).

Baselines, on exactly the same test targets and scale:
- seasonal naive: y_t = y_{t-11} (the ~11-year solar cycle);
- naive: y_t = y_{t-1};
- ARIMA(p, 0, q) from statsmodels, order chosen by AIC over p <= 9, q <= 1 on the training years
  only, then one-step-ahead forecasts over the test years with the parameters held fixed
  (``results.apply`` on the whole series: each forecast uses only the past).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.data.sequences import sunspot_series  # noqa: E402
from dlzoo.metrics.forecast import mase, naive_scale, smape  # noqa: E402
from dlzoo.runs import RunDir  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402

SEASON = 11


def baselines(window: int, val_size: int, test_size: int) -> list[dict]:
    """Seasonal naive, naive and ARIMA one-step forecasts of the test targets, scored like the model."""
    from statsmodels.tsa.arima.model import ARIMA

    data = load_dataset("sunspots", window=window, val_size=val_size, test_size=test_size)
    _, series, _ = sunspot_series()
    scale = naive_scale(data.train.y)
    n = len(series)
    test_idx = np.arange(n - test_size, n)  # positions of the test targets in the series
    y = torch.tensor(series[test_idx])
    torch.testing.assert_close(y.float(), data.test.y)  # the same targets as the model's test split
    out = []
    for name, lag in (("seasonal naive (y_{t-11})", SEASON), ("naive (y_{t-1})", 1)):
        pred = torch.tensor(series[test_idx - lag])
        out.append({"name": name, "value": mase(pred, y, scale=scale), "smape": smape(pred, y), "wall_time_s": 0.0})
    n_fit = n - test_size - val_size  # training years only: 1700-1928
    t0 = time.perf_counter()
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p, q in itertools.product(range(1, 10), range(2)):
            try:
                res = ARIMA(series[:n_fit], order=(p, 0, q)).fit()
            except Exception:  # noqa: BLE001  a non-converging order is skipped
                continue
            if best is None or res.aic < best[0]:
                best = (res.aic, (p, 0, q), res)
        full = best[2].apply(series)  # same parameters, filtered over the whole series
    pred = torch.tensor(np.asarray(full.fittedvalues)[test_idx])  # one-step-ahead predictions
    out.append(
        {
            "name": f"ARIMA{best[1]} (statsmodels, AIC-selected on train years)",
            "value": mase(pred, y, scale=scale),
            "smape": smape(pred, y),
            "wall_time_s": time.perf_counter() - t0,
            "order": list(best[1]),
        }
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. model.cell=gru")
    p.add_argument("--preset", default="default")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-record", action="store_true")
    p.add_argument("--note", default="", help="appended to the record's notes (e.g. how busy the machine was)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    test, smapes, val, loop_s = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="dlzoo-sunspots-") as tmp:
        for seed in range(args.seeds):
            cfg = resolve_config(
                "rnn_forecaster",
                preset=args.preset,
                overrides=[
                    *args.overrides,
                    f"train.seed={seed}",
                    f"train.threads={args.threads}",
                    "train.progress=false",
                ],
            )
            run = RunDir.create(tmp, "rnn_forecaster", f"seed{seed}")
            result = train_run(cfg, run)
            rows = [r for r in run.read_metrics() if "val/mase" in r]
            val.append(rows[-1]["val/mase"] if rows else float("nan"))
            test.append(result["test/mase"])
            smapes.append(result["test/smape"])
            loop_s.append(result["wall_time_s"])
            print(
                f"seed {seed}: test/mase {test[-1]:.3f} test/smape {smapes[-1]:.1f} val/mase {val[-1]:.3f} "
                f"loop {loop_s[-1]:.0f} s",
                flush=True,
            )
    d = cfg.data
    base = baselines(d["window"], d["val_size"], d["test_size"])
    print(
        f"rnn_forecaster test/mase {statistics.fmean(test):.3f} ± {statistics.pstdev(test):.3f}, "
        f"test/smape {statistics.fmean(smapes):.1f}"
    )
    for b in base:
        print(f"{b['name']}: mase {b['value']:.3f}, smape {b['smape']:.1f}")
    if args.no_record:
        return
    record(
        "sunspots",
        key=f"rnn_forecaster-{cfg.model['cell']}",
        model="rnn_forecaster",
        family="rnn",
        dataset="sunspots",
        dataset_version=cfg.info.get("dataset_version"),
        split=cfg.info.get("split_note", ""),
        metric="test/mase",
        values=test,
        seeds=list(range(args.seeds)),
        wall_time_s=statistics.fmean(loop_s),
        higher_is_better=False,
        baselines=base,
        reference={
            "value": min(b["value"] for b in base),
            "source": "best of the baselines measured here "
            "(ARIMA, seasonal naive, naive) on the same test targets and MASE scale",
        },
        config=cfg.model_dump(mode="json"),
        notes=f"{args.threads} torch thread(s) on a {os.cpu_count()}-core machine shared with other jobs; "
        "MASE scale = in-sample naive (m=1) MAE on the training targets" + (f"; {args.note}" if args.note else ""),
        extra={"test_smape": smapes, "val_mase": val, "preset": args.preset, "overrides": args.overrides},
    )


if __name__ == "__main__":
    main()
