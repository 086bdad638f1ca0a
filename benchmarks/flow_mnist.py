"""RealNVP and Glow on 8-bit MNIST: test bits/dim of a short CPU run, its curve and a sample grid.

    flock /tmp/dlzoo-bench.lock nice -n 5 python benchmarks/flow_mnist.py          # records
    python benchmarks/flow_mnist.py --smoke                                        # 200 images, records nothing

Data: LeCun's MNIST grey levels (DLZOO_DATA), the first ``--train`` training images (40000 by
default; no validation split: the curve shows the training bits/dim), tested on the 10000 published
test images. Each pixel is dequantized with uniform noise and logit-transformed; the log-det of both
is part of the likelihood (families/flow/model.py: ImageFlow), so test bits/dim = NLL of the 8-bit
data in nats / (784 ln 2), the standard unit. The test noise comes from a seeded generator.

Models: ``realnvp_image`` and ``glow`` with their ``mnist`` presets (2 scales; see presets.py), trained
through the dlzoo loop (``train_run``) for ``--epochs`` epochs, ``--train`` images: a budget of a few
CPU minutes each, against published numbers from days of GPU training (RealNVP 1.06, Glow 1.05,
FFJORD 0.99 bits/dim; Grathwohl et al. 2019, Table 2). One seed each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, record  # noqa: E402

os.environ.setdefault("DLZOO_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))  # ../shared/data

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.runs import RunDir  # noqa: E402
from dlzoo.training import train_run  # noqa: E402

REFERENCE = {
    "realnvp_image": (1.06, "Dinh et al. 2017 as reported by Grathwohl et al. 2019 (FFJORD), Table 2: RealNVP 1.06"),
    "glow": (1.05, "Kingma & Dhariwal 2018 as reported by Grathwohl et al. 2019 (FFJORD), Table 2: Glow 1.05"),
}


def curve(run: RunDir, path: Path, *, title: str) -> Path:
    """Training bits/dim (the logged NLL / (784 ln 2)) per logged window, the final test value as a line."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in run.read_metrics() if "train/loss" in r]
    test = [r["test/bits_per_dim"] for r in run.read_metrics() if "test/bits_per_dim" in r]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in rows], [r["train/loss"] / (784 * math.log(2)) for r in rows], label="train")
    if test:
        ax.axhline(test[-1], color="tab:red", ls="--", label=f"test {test[-1]:.3f}")
    ax.set_xlabel("step")
    ax.set_ylabel("bits/dim")
    ax.set_ylim(top=min(6.0, ax.get_ylim()[1]))
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["realnvp_image", "glow"])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train", type=int, default=40000, help="training images (the first ones)")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args()
    torch.set_num_threads(1)
    limit = 200 if args.smoke else args.train
    for model in args.models:
        overrides = [
            f"train.epochs={args.epochs}",
            "train.progress=false",
            "train.threads=1",
            "data.val_size=0",
            f"data.limit={limit}",
            *args.overrides,
        ]
        cfg = resolve_config(model, preset="mnist", overrides=overrides)
        with tempfile.TemporaryDirectory(prefix=f"dlzoo-{model}-") as tmp:
            run = RunDir.create(tmp, model, "mnist")
            cpu0 = time.process_time()
            result = train_run(cfg, run)
            cpu_min = (time.process_time() - cpu0) / 60  # the budget is CPU time: wall time is inflated by other jobs
            bpd = result["test/bits_per_dim"]
            print(f"{model}: test bits/dim {bpd:.4f}, {result['wall_time_s']:.0f} s, {cpu_min:.1f} CPU-min", flush=True)
            if args.smoke:
                continue
            curve(run, RESULTS / f"flow_mnist-{model}-curve.png", title=f"{model}, 8-bit MNIST")
            shutil.copyfile(run.plots_dir / "samples.png", RESULTS / f"flow_mnist-{model}-samples.png")
            ref, source = REFERENCE[model]
            record(
                "flow_mnist",
                key=model,
                model=model,
                family="flow",
                dataset="mnist",
                dataset_version=result.get("dataset_version"),
                split=f"test: the 10000 published test images; train: the first {limit} training images",
                metric="test/bits_per_dim",
                values=[bpd],
                seeds=[cfg.train.seed],
                wall_time_s=result["wall_time_s"],
                higher_is_better=False,
                reference={"value": ref, "source": source},
                config=json.loads(cfg.model_dump_json()),
                extra={"test_nll_nats": result["test/nll"], "cpu_minutes": cpu_min, "overrides": args.overrides},
                notes=(
                    f"{args.epochs} epoch(s) on {limit} images, one CPU thread, {result['wall_time_s']:.0f} s wall, "
                    f"{cpu_min:.1f} CPU-minutes (training and the final test pass); "
                    "the published value took days of GPU training. Uniform dequantization + logit, log-dets "
                    "counted: bits/dim of the 8-bit data."
                ),
            )


if __name__ == "__main__":
    main()
