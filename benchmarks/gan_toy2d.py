"""Mode collapse on the 2-D toys: GAN vs PacGAN4 on the ring of 8 and the grid of 25 Gaussians.

    flock /tmp/dlzoo-bench.lock python benchmarks/gan_toy2d.py                     # 10 seeds, records
    python benchmarks/gan_toy2d.py --seeds 1 --models pacgan --data ring --no-record train.epochs=5   # a try
    flock /tmp/dlzoo-bench.lock python benchmarks/gan_toy2d.py --seeds 3 --data ring --suffix=-x4 \
        train.epochs=...                                                   # a variant, recorded apart

The protocol of VEEGAN (Srivastava et al. 2017, Sec. 5.1) and PacGAN (Lin et al. 2018, Sec. 5):
after training, draw 2500 samples; a sample is high quality when it lies within 3 std of its nearest
mode center, a mode is captured when at least one high-quality sample falls on it (the rule of the
PacGAN code, see ``dlzoo.metrics.modes``). Reported per (model, data): ``test/modes_captured`` and
``test/high_quality_pct``, mean ± sd over seeds, against Lin et al. 2018, Table 1 (2D-ring: GAN 6.3 /
98.2%, PacGAN4 7.8 / 95.9%; 2D-grid: GAN 17.3 / 94.8%, PacGAN4 24.8 / 93.6%).

Both models run their ``ring`` / ``grid`` preset (``dlzoo train gan --preset ring``), which shortens
the paper's schedule 160x (400000 -> 2500 steps) to fit one shared CPU core (see families/gan/README.md). One PNG of
samples per (model, data) from seed 0 goes to ``benchmarks/results/figures/gan_toy2d/``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import mean_sd, record  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.runs import RunDir  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402

FIGURES = Path(__file__).resolve().parent / "results" / "figures" / "gan_toy2d"
PAPER = "Lin et al. 2018 (PacGAN), Table 1, 2500 samples, mean over 10 trials"
REFERENCE = {  # (model, data) -> (modes captured, % high-quality samples)
    ("gan", "ring"): (6.3, 98.2),
    ("pacgan", "ring"): (7.8, 95.9),
    ("gan", "grid"): (17.3, 94.8),
    ("pacgan", "grid"): (24.8, 93.6),
}
GOAL = {"ring": 8, "grid": 24}  # modes, with >= 95% high-quality samples


def run_seed(model: str, data: str, seed: int, overrides: list[str], figure: Path | None) -> dict:
    cfg = resolve_config(model, preset=data, overrides=[*overrides, f"train.seed={seed}", "train.progress=false"])
    with tempfile.TemporaryDirectory(prefix=f"dlzoo-{model}-") as tmp:
        run = RunDir.create(tmp, model, f"{data}-seed{seed}")
        result = train_run(cfg, run)
        if figure is not None:
            figure.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run.plots_dir / "samples.png", figure)
    return {
        "modes": result["test/modes_captured"],
        "hq": result["test/high_quality_pct"],
        "wall": result["wall_time_s"],
        "cfg": cfg,
        "version": result["dataset_version"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="dotted overrides for every run, e.g. train.epochs=10")
    p.add_argument("--models", nargs="+", default=["gan", "pacgan"])
    p.add_argument("--data", nargs="+", default=["ring", "grid"], choices=["ring", "grid"])
    p.add_argument("--seeds", type=int, default=10, help="model seeds 0..seeds-1")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--suffix", default="", help="appended to record keys and figure names (a variant's overrides)")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    for data in args.data:
        for model in args.models:
            rows, t0 = [], time.perf_counter()
            for seed in range(args.seeds):
                fig = FIGURES / f"{model}-{data}{args.suffix}.png" if seed == 0 and not args.no_record else None
                rows.append(run_seed(model, data, seed, [*args.overrides, f"train.threads={args.threads}"], fig))
                r = rows[-1]
                print(
                    f"{model} {data} seed {seed}: modes {r['modes']:.0f}  high quality {r['hq']:.1f}%  "
                    f"({r['wall']:.0f} s)",
                    flush=True,
                )
            modes, hq = [r["modes"] for r in rows], [r["hq"] for r in rows]
            (m, m_sd), (h, h_sd) = mean_sd(modes), mean_sd(hq)
            print(
                f"== {model} {data}: modes {m:.1f} ± {m_sd:.1f}, high quality {h:.1f} ± {h_sd:.1f}% "
                f"(paper {REFERENCE.get((model, data))}); {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
            if args.no_record:
                continue
            ref = REFERENCE.get((model, data))
            cfg = rows[-1]["cfg"]
            steps = cfg.train.epochs * -(-cfg.data["n_train"] // cfg.train.batch_size)  # n_critic = 1
            common = dict(
                model=model,
                family="gan",
                dataset=data,
                dataset_version=rows[-1]["version"],
                split="2500 generated samples (eval seed 0) against the mixture's known centers",
                seeds=list(range(args.seeds)),
                wall_time_s=sum(r["wall"] for r in rows) / len(rows),
                config=cfg.model_dump(mode="json"),
                notes=(
                    f"preset {data}: the paper's 400000 steps shortened to {steps} generator steps for one CPU core "
                    f"({cfg.train.epochs} epochs of {cfg.data['n_train']} samples, batch {cfg.train.batch_size}); "
                    f"goal {GOAL[data]} modes with >= 95% high-quality samples; machine shared with other jobs, "
                    f"1 torch thread; overrides: {' '.join(args.overrides) or 'none'}"
                ),
                extra={"figure": f"figures/gan_toy2d/{model}-{data}{args.suffix}.png"},
            )
            record(
                "gan_toy2d",
                key=f"{model}-{data}{args.suffix}-modes",
                metric="test/modes_captured",
                values=modes,
                reference={"value": ref[0], "source": PAPER} if ref else None,
                **common,
            )
            record(
                "gan_toy2d",
                key=f"{model}-{data}{args.suffix}-hq",
                metric="test/high_quality_pct",
                values=hq,
                reference={"value": ref[1], "source": PAPER} if ref else None,
                **common,
            )


if __name__ == "__main__":
    main()
