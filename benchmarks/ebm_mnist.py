"""Langevin EBM on MNIST: FID / KID of its samples in the gan family's feature space, beside DCGAN and the floor.

    DLZOO_DATA=../shared/data python benchmarks/ebm_mnist.py train.precision=bf16-mixed      # ~12 CPU-min
    DLZOO_DATA=../shared/data python benchmarks/ebm_mnist.py train.precision=bf16-mixed train.epochs=2 --tag=-2ep
    DLZOO_DATA=../shared/data python benchmarks/ebm_mnist.py --smoke --no-record             # a try: a minute

1. Feature network: ``lenet --preset mnist``, 2 epochs, trained into ``--runs``/lenet/features unless it
   exists (as benchmarks/gan_mnist.py does; the same runs folder by default, so one network serves both).
2. ``ebm --preset mnist`` (the conv energy, ``model.arch=conv``; positional overrides apply), one seed.
3. Two sample sets, scored against the 10000 published test images in the LeNet's 256-d penultimate
   layer (not Inception: not comparable with published FIDs):
   - **buffer**: the replay buffer at the end of training (``--n`` entries, all 10000 by default): every
     entry is the end of a chain of K steps, most of them restarted from earlier buffer entries, so this
     is what Du & Mordatch's persistent sampler yields; entries never drawn in training are still noise.
   - **chain**: ``--n-chain`` fresh chains of ``--chain-steps`` Langevin steps from uniform noise
     (the run's step size and noise), the replay-free sampler (evaluation seed 0).
   Each set has its own real floor at its size (that many training images vs the test images): FID is
   biased upward at small N, so compare a row with the floor of its size.
4. Figures: ``benchmarks/results/figures/ebm_mnist/samples<tag>.png`` (8x8 grids: real, buffer, chain).

Records ``ebm_mnist-buffer-fid.json``, ``-buffer-kid.json``, ``-chain-fid.json``, ``-chain-kid.json``
(lower is better) with the floor as the reference and the gan family's DCGAN and k-means rows (10000
samples, same features) as baselines; ``--tag=-2ep`` appends to the keys of a variant run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, record  # noqa: E402

os.environ.setdefault("DLZOO_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))  # ../shared/data

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.families.energy.ebm_objective import EVAL_SEED, LangevinObjective  # noqa: E402
from dlzoo.metrics.image_quality import feature_extractor, generation_metrics, real_floor  # noqa: E402
from dlzoo.runs import RunDir, load_run  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402

BENCH = "ebm_mnist"
FIGURES = RESULTS / "figures" / BENCH
FEATURES_NOTE = "FID/KID in the 256-d penultimate layer of the gan family's LeNet (not Inception)"


def gan_rows(metric: str) -> list[dict[str, Any]]:
    """The gan family's DCGAN and k-means rows of the same metric, read from their records."""
    import json

    path = RESULTS / f"gan_mnist-dcgan-{metric}.json"
    rows = []
    if path.is_file():
        rec = json.loads(path.read_text())
        rows.append({"name": "gan: dcgan (10000 samples)", "value": rec["value"], "sd": None})
        for b in rec.get("baselines") or []:
            if b["name"].startswith("k-means"):
                rows.append({"name": f"gan: {b['name']} (10000 samples)", "value": b["value"], "sd": None})
    return rows


def features_run(args: argparse.Namespace) -> Path:
    run = RunDir(Path(args.runs) / "lenet" / ("features-smoke" if args.smoke else "features"))
    if not (run.weights_path.is_file() and run.eval_path.is_file()):
        over = ["train.epochs=2", "train.threads=1", "train.progress=false", "train.checkpoint_every=100"]
        over += ["data.limit=5000"] if args.smoke else []
        res = train_run(resolve_config("lenet", preset="mnist", overrides=over), run)
        print(f"feature network: lenet test/accuracy {res['test/accuracy']:.4f} ({res['wall_time_s']:.0f} s)")
    return run.path


def grids(images: dict[str, torch.Tensor], path: Path) -> Path:
    """8x8 grids side by side, titled (matplotlib only here)."""
    import numpy as np

    from dlzoo.plots import plt

    fig, axes = plt.subplots(1, len(images), figsize=(2.6 * len(images), 2.9))
    for ax, (name, x) in zip(np.atleast_1d(axes), images.items(), strict=False):
        g = np.ones((8 * 29 - 1, 8 * 29 - 1))
        for i, im in enumerate(x[:64, 0].clamp(0, 1).numpy()):
            r, c = divmod(i, 8)
            g[r * 29 : r * 29 + 28, c * 29 : c * 29 + 28] = im
        ax.imshow(g, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="dotted overrides of the ebm mnist preset (train.precision=...)")
    p.add_argument("--runs", default="runs/gan_mnist", help="where the runs are kept (the feature net is shared)")
    p.add_argument("--n", type=int, default=10000, help="buffer samples scored (at most the buffer size)")
    p.add_argument("--n-chain", type=int, default=2000, help="fresh chains from noise scored")
    p.add_argument("--chain-steps", type=int, default=None, help="Langevin steps of the fresh chains (task.eval_steps)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--smoke", action="store_true", help="tiny data and budgets: checks the pipeline")
    p.add_argument("--tag", default="", help="appended to the record keys of a variant run (e.g. -2ep)")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.smoke:
        args.n, args.n_chain = 500, 200
        args.overrides = ["data.limit=640", "task.buffer_size=500", *args.overrides]

    features = feature_extractor(features_run(args))
    over = [*args.overrides, f"train.threads={args.threads}", "train.progress=false", "train.seed=0"]
    cfg = resolve_config("ebm", preset="mnist", overrides=over)
    run = RunDir(Path(args.runs) / "ebm" / f"{'smoke-' if args.smoke else ''}mnist-{int(time.time())}")
    result = train_run(cfg, run)
    print(f"ebm: trained in {result['wall_time_s']:.0f} s ({cfg.info.get('precision')})", flush=True)

    loaded = load_run(run.path)
    model = loaded.model.eval()
    objective = LangevinObjective(LangevinObjective.Config(**loaded.config.task))
    buffer = run.load_checkpoint()["task"]["objective"]["buffer"]  # (buffer_size, 1, 28, 28)
    g = torch.Generator().manual_seed(EVAL_SEED)
    steps = args.chain_steps or objective.cfg.eval_steps
    t0 = time.perf_counter()
    chain = objective.sample_with(model, args.n_chain, g, steps=steps)  # (n_chain, 1, 28, 28) fp32
    chain_s = time.perf_counter() - t0
    samples = {"buffer": buffer[torch.randperm(len(buffer), generator=g)[: args.n]], "chain": chain}

    mnist = load_dataset("mnist")
    real = mnist.test.x  # (10000, 1, 28, 28)
    pick = torch.randperm(len(mnist.train.x), generator=torch.Generator().manual_seed(0))
    rows: dict[str, dict[str, Any]] = {}
    for name, fake in samples.items():
        n = len(fake)
        kid = {"kid_subset_size": min(1000, n), "kid_subsets": 100}
        floor = real_floor(mnist.train.x[pick[:n]], real, features=features, **kid)
        m = generation_metrics(fake, real, features=features, **kid)
        rows[name] = {"n": n, "floor": floor, **m}
        print(
            f"{name} (N={n}): FID {m['fid']:.2f} KID {m['kid']:.4g}; "
            f"floor FID {floor['fid']:.2f} KID {floor['kid']:.4g}"
        )
    grids({"real (test)": real[:64], "replay buffer": samples["buffer"][:64], f"{steps} steps from noise": chain[:64]},
          (FIGURES if not args.smoke else Path(args.runs) / "ebm") / f"samples{args.tag}.png")  # fmt: skip
    if args.no_record:
        return
    how = {
        "buffer": f"{rows['buffer']['n']} entries of the replay buffer at the end of training",
        "chain": f"{rows['chain']['n']} fresh chains of {steps} Langevin steps from uniform noise (fp32)",
    }
    for name, row in rows.items():
        for metric in ("fid", "kid"):
            record(
                BENCH,
                key=f"{name}{args.tag}-{metric}",
                model=f"ebm (conv, {name}{', ' + args.tag.lstrip('-') if args.tag else ''})",
                family="energy",
                dataset="mnist",
                dataset_version=mnist.info.version,
                split=f"test: the 10000 published test images vs {how[name]}",
                metric=f"test/{metric}",
                values=[row[metric]],
                seeds=[0],
                wall_time_s=float(result["wall_time_s"]),
                higher_is_better=False,
                reference={
                    "value": row["floor"][metric],
                    "source": f"real floor: {row['n']} training vs the 10000 test images, same features",
                },
                baselines=gan_rows(metric),
                config=loaded.config.model_dump(mode="json"),
                notes=f"{FEATURES_NOTE}; one seed (0); {how[name]}; wall_time_s = the EBM's training loop; "
                f"1 torch thread on a machine shared with other jobs (2 cores)",
                extra={"kid_std": row["kid_std"], "floor": row["floor"], "chain_sampling_s": chain_s,
                       "run": str(run.path), "overrides": args.overrides},
            )  # fmt: skip


if __name__ == "__main__":
    main()
