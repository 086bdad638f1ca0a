"""Class-conditional DDPM on MNIST: FID / KID of DDPM and DDIM samples in the gan family's feature space.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/diffusion_mnist.py \
        --features runs/lenet/features                       # a real run: tens of CPU minutes, records
    python benchmarks/diffusion_mnist.py --smoke             # seconds, offline (8x8 digits), records nothing

1. ``ddpm_mnist --preset mnist`` (U-Net, 2 epochs, EMA) is trained once (positional overrides apply).
2. For each sampler spec (``--samplers``, default ddim:10 ddim:50 ddpm:1000), ``--samples`` images
   (labels cycling 0..9, guidance ``--guidance``) are drawn from the evaluation seed and timed.
3. With ``--features`` (a classifier run, ``benchmarks/gan_mnist.py`` trains one: LeNet's 256-unit
   penultimate layer, ``dlzoo.metrics.image_quality``; no Inception weights, so these FIDs are not
   comparable with published Inception FIDs), FID and KID against the 10000 test images.

Records ``diffusion_mnist-<sampler>-<steps>-fid.json`` (lower is better).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.families.diffusion.samplers import drain, generate  # noqa: E402
from dlzoo.runs import RunDir, load_run  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="dotted overrides of the training run, e.g. train.epochs=1")
    p.add_argument("--samplers", nargs="+", default=["ddim:10", "ddim:50", "ddpm:1000"], help="name:steps")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--guidance", type=float, default=1.0)
    p.add_argument("--features", type=Path, default=None, help="classifier run whose features give FID / KID")
    p.add_argument("--smoke", action="store_true", help="the tiny preset on 8x8 digits, 20 samples, no records")
    args = p.parse_args()
    torch.set_num_threads(1)
    preset = "tiny" if args.smoke else "mnist"
    n = 20 if args.smoke else args.samples
    cfg = resolve_config(
        "ddpm_mnist", preset=preset, overrides=[*args.overrides, "train.threads=1", "train.progress=false"]
    )
    with tempfile.TemporaryDirectory(prefix="dlzoo-ddpm-mnist-") as tmp:
        run = RunDir.create(tmp, "ddpm_mnist", "bench")
        result = train_run(cfg, run)
        model = load_run(run.path).model.eval()
    print({k: round(v, 4) for k, v in result.items() if k.startswith("test/")}, flush=True)
    features = real = None
    if args.features is not None and not args.smoke:
        from dlzoo.metrics.image_quality import feature_extractor, generation_metrics

        features = feature_extractor(args.features)
        real = load_dataset("mnist").test.x
    for spec in args.samplers:
        name, steps = spec.split(":")
        steps = min(int(steps), model.T)
        labels = torch.arange(n) % model.num_classes
        t0 = time.perf_counter()
        with torch.no_grad():
            x = drain(
                generate(
                    model,
                    n,
                    sampler=name,
                    steps=steps,
                    labels=labels,
                    guidance=args.guidance,
                    generator=torch.Generator().manual_seed(0),
                )
            )
        wall = time.perf_counter() - t0
        line = f"{name} {steps} steps: {n} samples in {wall:.1f} s"
        if features is None:
            print(line, flush=True)
            continue
        m = generation_metrics(x, real, features=features, kid_subset_size=min(1000, n))
        print(line, {k: round(v, 4) for k, v in m.items()}, flush=True)
        record(
            "diffusion_mnist",
            key=f"{name}-{steps}-fid",
            model="ddpm_mnist",
            family="diffusion",
            dataset="mnist",
            dataset_version=result["dataset_version"],
            metric="test/fid",
            values=[m["fid"]],
            seeds=[0],
            wall_time_s=result["wall_time_s"] + wall,
            split=f"{n} samples (labels cycling 0..9, guidance {args.guidance}) vs the 10000 test images",
            higher_is_better=False,
            config=cfg.model_dump(mode="json"),
            notes=f"LeNet features ({args.features.name}), not Inception; {n} samples; 1 seed; 1 torch thread",
            extra={"kid": m.get("kid"), "sampling_s": wall},
        )


if __name__ == "__main__":
    main()
