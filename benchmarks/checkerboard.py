"""Checkerboard artifacts at initialisation (Odena, Dumoulin & Olah 2016): a score per upsampling block.

    flock /tmp/dlzoo-bench.lock python benchmarks/checkerboard.py --seeds 10
    python benchmarks/checkerboard.py --seeds 2 --no-record          # a try

Odena et al.'s point is that the artifacts of transposed convolutions exist before any training:
uneven kernel overlap (kernel size not a multiple of the stride) makes some output pixels sum more
kernel taps than others. For every block of ``dlzoo.families.deconv.blocks`` (transpose k in
{2, 3, 4, 5} at s=2, k=3 and k=6 at s=3, resize k=3, shuffle k=3 with and without ICNR) a stack of
3 layers (16 -> 16 -> 16 -> 1 channels, ReLU between, PyTorch's default init, one stack per seed)
maps a 10x10 input (random N(0, 1) features, or all ones) to 10*s^3 pixels. Scored on the interior
(a margin of 2 s^3 pixels cropped, so zero padding does not count):

- ``checkerboard_score`` at stride s^3 (the stack's period): fraction of the high-frequency energy
  at the periodic frequencies (dlzoo.metrics.artifacts; 1 = purely periodic, 0 = none);
- ``pixel_parity`` at stride s: spread of the s*s sub-pixel phase means over the image's std.

Writes benchmarks/results/checkerboard-init-*.json (metric: score on random input, lower is better)
and benchmarks/results/figures/checkerboard/init.png (outputs for a constant and a random input, and
the log power spectrum of the random-input outputs).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from dlzoo.families.deconv.blocks import upsample
from dlzoo.metrics.artifacts import checkerboard_score, flat_spectrum_score, pixel_parity, power_spectrum

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, record  # noqa: E402

# (label, kind, kernel, scale, icnr)
CONFIGS = [
    ("transpose k2 s2", "transpose", 2, 2, True),
    ("transpose k3 s2", "transpose", 3, 2, True),
    ("transpose k4 s2", "transpose", 4, 2, True),
    ("transpose k5 s2", "transpose", 5, 2, True),
    ("transpose k3 s3", "transpose", 3, 3, True),
    ("transpose k6 s3", "transpose", 6, 3, True),
    ("resize k3 s2", "resize", 3, 2, True),
    ("shuffle k3 s2 ICNR", "shuffle", 3, 2, True),
    ("shuffle k3 s2 no-ICNR", "shuffle", 3, 2, False),
]
LAYERS, WIDTH, SIZE, BATCH = 3, 16, 10, 8


def stack(kind: str, kernel: int, scale: int, icnr: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(LAYERS):
        out = 1 if i == LAYERS - 1 else WIDTH
        layers.append(upsample(kind, WIDTH, out, scale=scale, kernel_size=kernel, icnr=icnr))
        if i < LAYERS - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@torch.no_grad()
def measure(kind: str, kernel: int, scale: int, icnr: bool, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    net = stack(kind, kernel, scale, icnr)
    period = scale**LAYERS
    g = torch.Generator().manual_seed(1000 + seed)
    inputs = {
        "random": torch.randn(BATCH, WIDTH, SIZE, SIZE, generator=g),
        "constant": torch.ones(1, WIDTH, SIZE, SIZE),
    }
    result = {}
    for name, x in inputs.items():
        y = net(x)[..., 2 * period : -2 * period, 2 * period : -2 * period]  # (B, 1, (SIZE-4) s^3, ...) interior
        result[name] = y
        result[f"{name}_score"] = checkerboard_score(y, stride=period)
        result[f"{name}_parity"] = pixel_parity(y, stride=scale)
    return result


def figure(examples: dict[str, dict[str, torch.Tensor]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, len(examples), figsize=(1.6 * len(examples), 5.2))
    for col, (label, r) in enumerate(examples.items()):
        spectrum = torch.fft.fftshift(power_spectrum(r["random"]))
        for row, (img, title) in enumerate(
            (
                (r["constant"][0, 0], "constant in"),
                (r["random"][0, 0], "random in"),
                (spectrum.clamp_min(1e-12).log10(), "log spectrum"),
            )
        ):
            ax = axes[row, col]
            lo, hi = float(img.min()), float(img.max())
            if hi - lo < 1e-6:  # a constant image: show it mid-grey rather than black
                lo, hi = lo - 1, hi + 1
            ax.imshow(img.numpy(), cmap="gray" if row < 2 else "magma", interpolation="nearest", vmin=lo, vmax=hi)
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(label.replace(" s", "\ns"), fontsize=7)
            if col == 0:
                ax.set_ylabel(title, fontsize=8)
    fig.suptitle("3 upsampling layers at random init (interior crop): Odena et al. 2016 artifacts", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    seeds = list(range(args.seeds))
    examples = {}
    print(f"{'block':24s} {'score random':>14s} {'score const':>14s} {'parity random':>14s} {'parity const':>13s}")
    for label, kind, kernel, scale, icnr in CONFIGS:
        t0 = time.perf_counter()
        runs = [measure(kind, kernel, scale, icnr, s) for s in seeds]
        wall = (time.perf_counter() - t0) / len(seeds)
        examples[label] = runs[0]
        stat = {
            k: [float(r[k]) for r in runs]
            for k in ("random_score", "constant_score", "random_parity", "constant_parity")
        }
        mean = {k: statistics.fmean(v) for k, v in stat.items()}
        sd = {k: statistics.stdev(v) if len(v) > 1 else 0.0 for k, v in stat.items()}
        print(f"{label:24s} " + " ".join(f"{mean[k]:.3f}±{sd[k]:.3f}".rjust(14) for k in stat), flush=True)
        if args.no_record:
            continue
        period = scale**LAYERS
        side = (SIZE - 4) * period
        record(
            "checkerboard",
            key="init-" + label.replace(" ", "_"),
            model=f"{LAYERS} x upsample({kind})",
            family="deconv",
            dataset="random N(0,1) 16x10x10 features",
            split="interior crop of the outputs",
            metric=f"checkerboard_score@init ({label})",
            values=stat["random_score"],
            seeds=seeds,
            wall_time_s=wall,
            higher_is_better=False,
            reference={
                "value": None,
                "source": "Odena, Dumoulin & Olah 2016 (Distill): uneven overlap "
                "(k not divisible by s) gives checkerboards at init; qualitative, no number",
            },
            baselines=[
                {"name": "flat spectrum |A|/|HF|", "value": flat_spectrum_score(side, side, period)},
                {"name": "constant input", "value": mean["constant_score"], "sd": sd["constant_score"]},
            ],
            config={
                "kind": kind,
                "kernel_size": kernel,
                "scale": scale,
                "icnr": icnr,
                "layers": LAYERS,
                "width": WIDTH,
                "input_size": SIZE,
                "batch": BATCH,
                "score_stride": period,
            },
            notes="score = sum of power at the stride-s^3 alias frequencies / power in the band "
            "max(|f_u|,|f_v|) >= 1/(2 s^3), interior crop; one torch thread, shared 2-core machine",
            extra={
                "constant_input_score": stat["constant_score"],
                "parity_random": stat["random_parity"],
                "parity_constant": stat["constant_parity"],
            },
        )
    fig_path = RESULTS / "figures" / "checkerboard" / "init.png"
    figure(examples, fig_path)
    print(f"figure: {fig_path}")


if __name__ == "__main__":
    main()
