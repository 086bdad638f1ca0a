"""fp32 against bf16-mixed training, family by family: wall time, CPU time and the headline metric.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/precision_table.py
    python benchmarks/precision_table.py --only mlp cnn --seeds 1          # a subset
    python benchmarks/precision_table.py --smoke                           # tiny presets, records nothing

Each family's canonical preset (the one its headline benchmark trains) runs through dlzoo's own loop
(``train_run``) twice per seed, ``train.precision=32-true`` and ``bf16-mixed``, alternating which goes
first, on one thread. The budget (epochs / iterations / steps) is cut to what the shared 2-core machine
allows, the same for both precisions, so the comparison is of precision at an equal budget, not a
reproduction of the headline figure (the cut is in each record's config). CPU time
(``time.process_time``: with one thread, the work done) is recorded beside the wall time because other
jobs may share the machine. A preset should switch to bf16 only where its metric stays within the fp32
seed spread and it is faster; ``train.precision=auto`` picks bf16 only on CPUs with native bf16 (AMX or
AVX-512-BF16), see the records' ``hardware.isa``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import machine_tag, record  # noqa: E402

os.environ.setdefault("DLZOO_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.registry import get_spec  # noqa: E402
from dlzoo.runs import RunDir  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402

#: family -> (model, preset, budget overrides, headline metric, higher is better)
CASES: dict[str, tuple[str, str, list[str], str, bool]] = {
    "mlp": ("mlp_classifier", "mnist", ["train.epochs=3"], "test/accuracy", True),
    "cnn": ("lenet", "mnist", ["train.epochs=2"], "test/accuracy", True),
    "resnet": ("resnet2d", "mnist", ["train.epochs=1"], "test/accuracy", True),
    "rnn": ("char_lstm", "shakespeare", ["task.max_iters=300", "task.eval_interval=300"], "test/loss", False),
    "gnn": ("gcn", "cora", [], "test/accuracy", True),
    "transformer": (
        "gpt",
        "shakespeare_cpu",
        ["task.max_iters=300", "task.eval_interval=300", "task.microbatch_threads=1"],
        "test/loss",
        False,
    ),
    "autoencoder": ("vae_mlp", "mnist", ["train.epochs=3"], "test/neg_elbo", False),
    "deconv": ("upsampler", "mnist", ["train.epochs=2"], "test/psnr", True),
    "gan": ("dcgan", "mnist", ["train.epochs=1"], "test/critic_gap", False),
    "rl": ("dqn", "default", ["task.total_steps=20000"], "test/return_mean", True),
}


def one_run(model: str, preset: str, overrides: list[str], *, seed: int, precision: str, folder: Path) -> dict:
    cfg = resolve_config(
        model,
        preset=preset,
        overrides=[
            *overrides,
            f"train.seed={seed}",
            f"train.precision={precision}",
            "train.threads=1",
            "train.progress=false",
        ],
    )
    run = RunDir.create(folder, model, f"{precision}-s{seed}")
    t0, c0 = time.perf_counter(), time.process_time()
    result = train_run(cfg, run)
    return {"result": result, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "cfg": cfg}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="*", default=None, help=f"families (default all: {', '.join(CASES)})")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--smoke", action="store_true", help="tiny presets, records nothing")
    args = p.parse_args()
    torch.set_num_threads(1)
    for family in args.only or list(CASES):
        model, preset, overrides, metric, higher = CASES[family]
        if args.smoke:
            preset, overrides = "tiny", []
        assert get_spec(model).family == family
        print(f"{family}: {model} --preset {preset} {' '.join(overrides)}", flush=True)
        runs: dict[str, list[dict]] = {"32-true": [], "bf16-mixed": []}
        with tempfile.TemporaryDirectory(prefix=f"dlzoo-precision-{model}-") as tmp:
            for seed in range(args.seeds):
                order = ["32-true", "bf16-mixed"] if seed % 2 == 0 else ["bf16-mixed", "32-true"]
                for precision in order:
                    r = one_run(model, preset, overrides, seed=seed, precision=precision, folder=Path(tmp))
                    runs[precision].append(r)
                    print(
                        f"  seed {seed} {precision:10s} {metric} {r['result'][metric]:.4f}  "
                        f"wall {r['wall_s']:.1f} s  cpu {r['cpu_s']:.1f} s",
                        flush=True,
                    )
        if args.smoke:
            continue
        fp32, bf16 = runs["32-true"], runs["bf16-mixed"]

        def mean(rs: list[dict], key: str) -> float:
            return statistics.fmean(r[key] for r in rs)

        bf16_values = [r["result"][metric] for r in bf16]
        record(
            "precision_table",
            key=f"{family}-{machine_tag()}",
            model=model,
            family=family,
            dataset=str(fp32[0]["cfg"].data.get("name")),
            split=fp32[0]["result"].get("split_note") or "the preset's test split",
            metric=metric,
            values=[r["result"][metric] for r in fp32],
            seeds=list(range(args.seeds)),
            wall_time_s=mean(fp32, "wall_s"),
            higher_is_better=higher,
            baselines=[
                {
                    "name": "bf16-mixed (same preset, budget, seeds)",
                    "value": statistics.fmean(bf16_values),
                    "sd": statistics.stdev(bf16_values) if len(bf16_values) > 1 else 0.0,
                    "wall_time_s": mean(bf16, "wall_s"),
                    "cpu_time_s": mean(bf16, "cpu_s"),
                }
            ],
            config={"preset": preset, "overrides": overrides, "train": {"precision": "32-true", "threads": 1}},
            notes=(
                f"fp32 wall {mean(fp32, 'wall_s'):.1f} s / cpu {mean(fp32, 'cpu_s'):.1f} s; bf16-mixed wall "
                f"{mean(bf16, 'wall_s'):.1f} s / cpu {mean(bf16, 'cpu_s'):.1f} s (speed-up by CPU time "
                f"{mean(fp32, 'cpu_s') / mean(bf16, 'cpu_s'):.2f}x); budget: {' '.join(overrides) or 'the preset'}"
            ),
            extra={"cpu_time_s": mean(fp32, "cpu_s"), "speedup_cpu": mean(fp32, "cpu_s") / mean(bf16, "cpu_s")},
        )


if __name__ == "__main__":
    main()
