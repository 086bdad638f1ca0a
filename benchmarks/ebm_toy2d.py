"""The Langevin-trained EBM on the 2-D toys with the gan family's mode-coverage protocol.

    flock /tmp/dlzoo-bench.lock nice -n 5 python benchmarks/ebm_toy2d.py          # ring and grid, 1 seed
    python benchmarks/ebm_toy2d.py --smoke                                         # seconds, records nothing

``ebm`` presets ``ring`` / ``grid`` (MLP energy 3 x 128 SiLU, Adam 1e-3, batch 100, K = 40 Langevin steps
of lambda 0.01 and sigma 0.005 from a replay buffer, Du & Mordatch 2019) for ``--epochs`` epochs of the
10000 training points; then 2500 samples by 500 Langevin steps from uniform noise, scored as in
VEEGAN / PacGAN (``dlzoo.metrics.modes``: a sample is high quality within 3 std of its nearest mode, a
mode is captured when it has one). The reference is the GAN row of PacGAN's Table 1 (a different model
class: there is no published EBM number for this protocol).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.runs import RunDir  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402

FIGURES = Path(__file__).resolve().parent / "results" / "figures" / "ebm_toy2d"
GAN_REFERENCE = {"ring": (6.3, 98.2), "grid": (17.3, 94.8)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--data", nargs="+", default=["ring", "grid"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true", help="1 epoch of 2000 points, 200 samples, records nothing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for data in args.data:
        over = [f"train.epochs={args.epochs}", f"train.seed={args.seed}", "train.progress=false", "train.threads=1"]
        if args.smoke:
            over = [*over, "train.epochs=1", "data.n_train=2000", "task.eval_samples=200"]
        cfg = resolve_config("ebm", preset=data, overrides=over)
        with tempfile.TemporaryDirectory(prefix="dlzoo-ebm-") as tmp:
            run = RunDir.create(tmp, "ebm", data)
            result = train_run(cfg, run)
            if not args.smoke:
                FIGURES.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(run.plots_dir / "samples.png", FIGURES / f"{data}.png")
        test = {k: v for k, v in result.items() if k.startswith("test/")}
        print(data, test, f"{result['wall_time_s']:.0f} s")
        if args.smoke:
            continue
        modes, hq = GAN_REFERENCE[data]
        source = f"Lin et al. 2018 (PacGAN) Table 1, GAN on 2D-{data} ({hq}% high quality): another model class"
        notes = (
            f"one seed, {args.epochs} epochs ({args.epochs * 100} Adam steps, each with 40 Langevin steps); "
            f"high-quality samples {test['test/high_quality_pct']:.1f}% (within 3 std of a mode); "
            f"figure benchmarks/results/figures/ebm_toy2d/{data}.png"
        )
        record(
            "ebm_toy2d",
            key=data,
            model="ebm",
            family="energy",
            dataset=data,
            dataset_version=cfg.info["dataset_version"],
            split="2500 Langevin samples from uniform noise (500 steps)",
            metric="test/modes_captured",
            values=[test["test/modes_captured"]],
            seeds=[args.seed],
            wall_time_s=result["wall_time_s"],
            reference={"value": modes, "source": source},
            notes=notes,
            config=cfg.model_dump(mode="json"),
            extra={"test": test},
        )


if __name__ == "__main__":
    main()
