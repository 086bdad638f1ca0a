"""DDPM on the 2-D toys: mode coverage (the gan family's protocol) and NLL through the probability-flow ODE.

    flock /tmp/dlzoo-bench.lock python benchmarks/diffusion_toy2d.py                   # 2 seeds, records
    python benchmarks/diffusion_toy2d.py --smoke                                        # seconds, records nothing

Per data set (``ddpm_2d --preset ring|grid|swiss_roll``: 8000 Adam steps of batch 256 on 10000 draws):
``test/modes_captured`` and ``test/high_quality_pct`` of 2500 samples (ring, grid; VEEGAN / PacGAN
protocol, ``dlzoo.metrics.modes``), and ``test/nll`` (nats) of the 2000 test points through the
probability-flow ODE (100 RK4 steps, exact divergence). References: Lin et al. 2018 (PacGAN), Table 1
for the modes (GAN / PacGAN4, a different model class: context, not a baseline), and the NLL of the
same test points under the generating mixture's exact density (ring, grid), the floor for any model.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import mean_sd, record  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.data.toy2d import grid_modes, ring_modes  # noqa: E402
from dlzoo.runs import RunDir  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402

PAPER = "Lin et al. 2018 (PacGAN), Table 1, 2500 samples, mean over 10 trials (PacGAN4)"
PACGAN = {"ring": (7.8, 95.9), "grid": (24.8, 93.6)}


def mixture_nll(data: str) -> float | None:
    """Mean -log p(x) of the test points under the generating mixture (equal weights, isotropic std)."""
    if data not in ("ring", "grid"):
        return None
    modes = ring_modes() if data == "ring" else grid_modes()
    x = load_dataset(data).test.x.double()  # (2000, 2)
    d2 = torch.cdist(x, modes.centers.double()) ** 2  # (N, K)
    s2 = modes.std**2
    log_p = torch.logsumexp(-d2 / (2 * s2), dim=1) - math.log(len(modes.centers)) - math.log(2 * math.pi * s2)
    return float(-log_p.mean())


def run_seed(data: str, seed: int, overrides: list[str]) -> dict:
    cfg = resolve_config("ddpm_2d", preset=data, overrides=[*overrides, f"train.seed={seed}", "train.progress=false"])
    with tempfile.TemporaryDirectory(prefix="dlzoo-ddpm-") as tmp:
        result = train_run(cfg, RunDir.create(tmp, "ddpm_2d", f"{data}-seed{seed}"))
    return {
        **{k: v for k, v in result.items() if k.startswith("test/")},
        "wall": result["wall_time_s"],
        "cfg": cfg,
        "version": result["dataset_version"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="dotted overrides for every run")
    p.add_argument("--data", nargs="+", default=["ring", "grid", "swiss_roll"], choices=["ring", "grid", "swiss_roll"])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--smoke", action="store_true", help="a few epochs, one seed, no records")
    args = p.parse_args()
    torch.set_num_threads(1)
    overrides = [*args.overrides, "train.threads=1"]
    if args.smoke:
        overrides += ["train.epochs=2", "task.eval_samples=200", "task.nll_examples=50", "task.nll_steps=5"]
        args.seeds = 1
    for data in args.data:
        rows, t0 = [], time.perf_counter()
        for seed in range(args.seeds):
            rows.append(run_seed(data, seed, overrides))
            r = rows[-1]
            shown = {k.removeprefix("test/"): round(v, 3) for k, v in r.items() if k.startswith("test/")}
            print(f"{data} seed {seed}: {shown} ({r['wall']:.0f} s)", flush=True)
        floor = mixture_nll(data)
        print(f"== {data}: {time.perf_counter() - t0:.0f} s; mixture NLL {floor}", flush=True)
        if args.smoke:
            continue
        cfg = rows[-1]["cfg"]
        steps = cfg.train.epochs * -(-10000 // cfg.train.batch_size)
        common = dict(
            model="ddpm_2d",
            family="diffusion",
            dataset=data,
            dataset_version=rows[-1]["version"],
            seeds=list(range(args.seeds)),
            wall_time_s=sum(r["wall"] for r in rows) / len(rows),
            config=cfg.model_dump(mode="json"),
            notes=(
                f"preset {data}: {steps} Adam steps of batch {cfg.train.batch_size}; EMA weights; samples by "
                f"{cfg.task['eval_sampler']} with {cfg.task['eval_steps']} steps; {args.seeds} seeds (the CPU budget); "
                f"machine shared with other jobs, 1 torch thread; overrides: {' '.join(args.overrides) or 'none'}"
            ),
        )
        split = "2000 test points (NLL); 2500 generated samples, eval seed 0 (modes)"
        nll = [r["test/nll"] for r in rows]
        ref = {"value": floor, "source": "the generating mixture's exact density on the same test points"}
        record(
            "diffusion_toy2d",
            key=f"{data}-nll",
            metric="test/nll",
            values=nll,
            split=split,
            higher_is_better=False,
            reference=ref if floor is not None else None,
            **common,
        )
        if data in PACGAN:
            for metric, i, name in (("test/modes_captured", 0, "modes"), ("test/high_quality_pct", 1, "hq")):
                vals = [r[metric] for r in rows]
                record(
                    "diffusion_toy2d",
                    key=f"{data}-{name}",
                    metric=metric,
                    values=vals,
                    split=split,
                    reference={"value": PACGAN[data][i], "source": PAPER},
                    **common,
                )
        print(f"recorded {data}: nll {mean_sd(nll)}", flush=True)


if __name__ == "__main__":
    main()
