"""MNIST GANs: FID and KID of DCGAN and WGAN-GP samples, with a feature network trained here, against the real floor.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/gan_mnist.py --seeds 1
    DLZOO_DATA=../shared/data python benchmarks/gan_mnist.py --smoke --no-record     # a try: minutes

1. Feature network: ``lenet --preset mnist`` with ``train.epochs=--feature-epochs`` (its test accuracy
   is recorded), trained once into ``--runs``/lenet/features and reused on later calls (or pass an
   existing classifier run with ``--features``). Its penultimate layer (256 ReLU units) is the
   embedding (``dlzoo.metrics.image_quality.feature_extractor``): nothing can be downloaded, so no
   Inception-v3, and these FIDs are **not comparable with published (Inception) MNIST FIDs**.
2. Per model (``dcgan``, ``wgan_gp``, preset ``mnist``) and seed: ``train_run`` with
   ``task.fid_features=<feature run>``, so the run's own final evaluation (``test/fid``, ``test/kid``,
   ``test/kid_std`` in eval.json) compares 10000 samples (z from the evaluation seed) with the 10000
   published test images; KID: 100 subsets of 1000 (Binkowski et al. 2018).
3. Bars, with the same network and sample size: the **real floor** (10000 random training images vs
   the 10000 test images: what a perfect generator reaches at N = 10000), and two trivial generators
   as the lower bar: independent per-pixel Gaussians fitted to the training images (clipped to
   [0, 1]), and k-means (k = 100) centroids of the training images drawn by cluster frequency.
4. 8x8 grids of samples beside real images: ``benchmarks/results/figures/gan_mnist/``.

Records ``gan_mnist-<model>-fid.json`` / ``-kid.json`` (lower is better) with the bars as baselines,
and ``gan_mnist-feature_net.json``. Positional overrides go to every GAN (``train.epochs=1``) or,
prefixed with a model name, to one (``dcgan:train.epochs=5``).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, record

os.environ.setdefault("DLZOO_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))  # ../shared/data

from dlzoo.config import resolve_config
from dlzoo.data import load_dataset
from dlzoo.metrics.image_quality import feature_extractor, generation_metrics, real_floor
from dlzoo.runs import RunDir, load_run
from dlzoo.training.loop import train_run
from dlzoo.plots import plt

FIGURES = RESULTS / "figures" / "gan_mnist"
SPLIT = (
    "test: the 10000 published MNIST test images vs 10000 samples (GAN train = first 50000 training "
    "images, val = last 10000)"
)
FLOOR_SOURCE = "real floor: 10k train vs 10k test images; own LeNet features, not Inception (see notes)"
NOT_INCEPTION = (
    "FID/KID in the 256-d penultimate layer of a LeNet trained here on MNIST (no Inception-v3 "
    "weights can be downloaded): not comparable with published Inception FIDs"
)


def train_features(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """The feature classifier run (trained unless it exists) and its eval.json."""
    if args.features:
        return Path(args.features), RunDir(Path(args.features)).read_eval()
    run = RunDir(Path(args.runs) / "lenet" / ("features-smoke" if args.smoke else "features"))
    if run.weights_path.is_file() and run.eval_path.is_file():
        print(f"feature network: reusing {run.path}")
        return run.path, run.read_eval()
    overrides = [
        f"train.epochs={args.feature_epochs}",
        f"train.threads={args.threads}",
        "train.progress=false",
        "train.checkpoint_every=100",
    ]
    overrides += ["data.limit=5000"] if args.smoke else []
    cfg = resolve_config("lenet", preset="mnist", overrides=overrides)
    result = train_run(cfg, run)
    print(f"feature network: lenet test/accuracy {result['test/accuracy']:.4f} ({result['wall_time_s']:.0f} s)")
    return run.path, result


def trivial_generators(x_train: torch.Tensor, n: int, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """The lower bar: per-pixel Gaussians and k-means centroids of the training images, n samples each."""
    from sklearn.cluster import MiniBatchKMeans

    g = torch.Generator().manual_seed(seed)
    mu, sd = x_train.mean(0), x_train.std(0)  # (1, 28, 28) each
    gaussian = (mu + sd * torch.randn((n, *mu.shape), generator=g)).clamp(0, 1)  # (n, 1, 28, 28)
    km = MiniBatchKMeans(n_clusters=100, random_state=seed, n_init=3, batch_size=2048)
    labels = km.fit_predict(x_train.flatten(1).numpy())  # (N,)
    freq = torch.from_numpy(np.bincount(labels, minlength=100) / len(labels))
    pick = torch.multinomial(freq, n, replacement=True, generator=g)  # (n,)
    centroids = torch.from_numpy(km.cluster_centers_).float().clamp(0, 1).view(-1, *mu.shape)  # (100, 1, 28, 28)
    return {"per-pixel Gaussian": gaussian, "k-means centroids (k=100)": centroids[pick]}


def samples_of(run_path: Path, n: int, *, seed: int = 0) -> torch.Tensor:
    """n samples of a trained run, rebuilt from its directory alone: (n, 1, 28, 28)."""
    loaded = load_run(run_path)
    return loaded.spec.objective.sample(loaded.model, n, torch.Generator().manual_seed(seed))


def grid_of(x: torch.Tensor) -> np.ndarray:
    """The first 64 images (N, 1, 28, 28) as one 8x8 grid with 1-pixel gaps: (232, 232) in [0, 1]."""
    grid = np.ones((8 * 29 - 1, 8 * 29 - 1))
    for i, im in enumerate(x[:64, 0].clamp(0, 1).numpy()):
        r, c = divmod(i, 8)
        grid[r * 29 : r * 29 + 28, c * 29 : c * 29 + 28] = im
    return grid


def save_grid(x: torch.Tensor, path: Path) -> Path:
    """An 8x8 grid at one screen pixel per image pixel (a few tens of KB)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, grid_of(x), cmap="gray", vmin=0, vmax=1)
    return path


def panels(images: dict[str, torch.Tensor], path: Path) -> Path:
    """One figure: an 8x8 grid per entry, side by side, titled."""
    fig, axes = plt.subplots(1, len(images), figsize=(2.5 * len(images), 2.7))
    for ax, (name, x) in zip(np.atleast_1d(axes), images.items(), strict=False):
        ax.imshow(grid_of(x), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=100)
    plt.close(fig)
    Image.open(buffer).convert("L").save(path, optimize=True)  # grayscale: a third of the RGBA size
    return path


def model_overrides(overrides: list[str], model: str) -> list[str]:
    out = []
    for item in overrides:
        head, sep, rest = item.partition(":")
        if sep and "=" not in head:
            if head == model:
                out.append(rest)
        else:
            out.append(item)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="dotted overrides for every GAN, or model:key=value for one")
    p.add_argument("--models", nargs="*", default=["dcgan", "wgan_gp"])
    p.add_argument("--preset", default="mnist")
    p.add_argument("--seeds", type=int, default=1, help="GAN seeds 0..seeds-1")
    p.add_argument("--features", help="an existing classifier run to use as the feature network")
    p.add_argument("--feature-epochs", type=int, default=2)
    p.add_argument("--runs", default="runs/gan_mnist", help="where the runs are kept")
    p.add_argument("--n", type=int, default=10000, help="generated / real images compared")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--smoke", action="store_true", help="tiny data and budgets: checks the pipeline, records nothing")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.smoke:
        args.no_record, args.n, args.feature_epochs = True, 1000, 1
        args.overrides = ["train.epochs=1", "data.limit=1000", "task.eval_samples=200", *args.overrides]

    features_path, feature_eval = train_features(args)
    feature_acc = float(feature_eval["test/accuracy"])
    features = feature_extractor(features_path)
    mnist = load_dataset("mnist")
    x_train, x_test = mnist.train.x, mnist.test.x[: args.n]  # (60000 | n, 1, 28, 28)
    pick = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(0))[: args.n]
    kid = {"kid_subset_size": min(1000, args.n), "kid_subsets": 100}

    t0 = time.perf_counter()
    floor = real_floor(x_train[pick], x_test, features=features, **kid)
    print(
        f"real floor (train vs test, N={args.n}): FID {floor['fid']:.3f}  KID {floor['kid']:.4g} "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    bars = {"real floor (train vs test images)": floor}
    trivial = trivial_generators(x_train, args.n)
    for name, fake in trivial.items():
        bars[name] = generation_metrics(fake, x_test, features=features, **kid)
        print(f"{name}: FID {bars[name]['fid']:.3f}  KID {bars[name]['kid']:.4g}")

    grids = {"real (test)": x_test[:64]}
    results: dict[str, list[dict[str, Any]]] = {}
    for model in args.models:
        results[model] = []
        for seed in range(args.seeds):
            cfg = resolve_config(
                model,
                preset=args.preset,
                overrides=[
                    *model_overrides(args.overrides, model),
                    f"train.seed={seed}",
                    f"train.threads={args.threads}",
                    "train.progress=false",
                    f"task.fid_features={features_path}",
                    f"task.fid_samples={args.n}",
                ],
            )
            run = RunDir(Path(args.runs) / model / f"{'smoke-' if args.smoke else ''}seed{seed}-{int(time.time())}")
            result = train_run(cfg, run)
            results[model].append({**result, "run": str(run.path), "cfg": cfg})
            print(
                f"{model} seed {seed}: test/fid {result['test/fid']:.3f}  test/kid {result['test/kid']:.4g}  "
                f"loop {result['wall_time_s']:.0f} s",
                flush=True,
            )
            if seed == 0:
                grids[model] = samples_of(run.path, 64)
                save_grid(grids[model], FIGURES / f"{model}.png")
    for name, fake in trivial.items():
        grids[name] = fake[:64]
    if not args.smoke:
        save_grid(x_test, FIGURES / "real.png")
        panels(grids, FIGURES / "samples.png")
        print(f"figures: {FIGURES}")

    if args.no_record:
        return
    record(
        "gan_mnist",
        key="feature_net",
        model="lenet (FID/KID features)",
        family="gan",
        dataset="mnist",
        dataset_version=mnist.info.version,
        split="test: the 10000 published test images",
        metric="test/accuracy",
        values=[feature_acc],
        seeds=[0],
        wall_time_s=float(feature_eval["wall_time_s"]),
        reference={"value": 0.9905, "source": "LeNet-5, LeCun et al. 1998, Fig. 9"},
        notes=f"lenet --preset mnist, {feature_eval.get('rounds')} epochs; 1 torch thread on a machine "
        f"shared by 4 engineers (2 cores); {features_path}",
        extra={"features_run": str(features_path)},
    )
    for model, rows in results.items():
        for metric in ("fid", "kid"):
            baselines = [{"name": name, "value": b[metric], "sd": None} for name, b in bars.items()]
            record(
                "gan_mnist",
                key=f"{model}-{metric}",
                model=model,
                family="gan",
                dataset="mnist",
                dataset_version=mnist.info.version,
                split=SPLIT,
                metric=f"test/{metric}",
                values=[r[f"test/{metric}"] for r in rows],
                seeds=list(range(args.seeds)),
                wall_time_s=statistics.fmean(r["wall_time_s"] for r in rows),
                higher_is_better=False,
                reference={"value": floor[metric], "source": FLOOR_SOURCE},
                baselines=baselines,
                config=rows[-1]["cfg"].model_dump(mode="json"),
                notes=f"{args.threads} torch thread on a machine shared by 4 engineers (2 cores); "
                f"wall_time_s = the GAN loop's training time per seed. {NOT_INCEPTION}. "
                f"Feature net test accuracy {feature_acc:.4f}.",
                extra={
                    "kid_std": [r["test/kid_std"] for r in rows],
                    "bars": bars,
                    "runs": [r["run"] for r in rows],
                    "overrides": args.overrides,
                    "feature_net_accuracy": feature_acc,
                    "figures": str(FIGURES.relative_to(RESULTS.parent.parent)),
                },
            )


if __name__ == "__main__":
    main()
