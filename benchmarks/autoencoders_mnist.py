"""Autoencoders on MNIST side by side: reconstruction error, denoising PSNR at 25% masking, mean code
activation, encoder Jacobian norm and linear-probe accuracy of the codes, against PCA and raw pixels.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/autoencoders_mnist.py
    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock \
        python benchmarks/autoencoders_mnist.py --conv-only --conv-epochs 2
    DLZOO_DATA=../shared/data python benchmarks/autoencoders_mnist.py --smoke        # minutes, records nothing

Models (each through dlzoo's own loop, preset ``mnist``, ``--epochs`` epochs of Adam 1e-3, batch 100):
``ae_mlp``, ``dae_mlp`` (25% masking), ``sparse_ae_mlp`` (KL, rho = 0.05, beta = 0.1), ``cae_mlp``
(exact Jacobian penalty, lambda = 0.1): one-layer 784-500 sigmoid encoders, mirrored decoder, cross-entropy
on grey levels; ``vae_mlp`` 784-400-40 (ReLU) trained on the same grey levels (not binarized), code = mu.
``--conv-epochs N`` adds the four conv variants (2 stride-2 convs, 64-d code, transposed-conv decoder;
minutes per epoch on one CPU thread, so off by default); ``--conv-only`` runs just them (table-conv.md).
Data: LeCun's MNIST, train = first 50000, val = last 10000 training images, test = the published 10000;
every metric below is on test.

Every model is measured by the same function here (``measure``): reconstruction MSE per pixel, PSNR of
the reconstruction, denoising PSNR (25% of the pixels zeroed by a generator seeded 0, reconstructed, PSNR
against the clean image; torchmetrics, data_range 1), mean code value, mean ||J_f(x)||_F over the first
1000 test images (exact), and the accuracy of a softmax regression fitted by L-BFGS on the 50000 train
codes. Baselines on the same images: PCA with 500 and 40 components (the code sizes above) and raw pixels.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, record  # noqa: E402

os.environ.setdefault("DLZOO_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))  # ../shared/data

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.families.autoencoder import jacobian  # noqa: E402
from dlzoo.families.autoencoder.ae_objective import EVAL_SEED, corrupt  # noqa: E402
from dlzoo.metrics.representation import linear_probe_accuracy, psnr  # noqa: E402
from dlzoo.runs import RunDir, default_run_name, load_run  # noqa: E402
from dlzoo.training import train_run  # noqa: E402
from dlzoo.plots import image_grid  # noqa: E402

MLP = ["ae_mlp", "dae_mlp", "sparse_ae_mlp", "cae_mlp", "vae_mlp"]
CONV = ["ae_conv", "dae_conv", "sparse_ae_conv", "cae_conv"]
VAE_GREY = ["data.binarize=none", "task.eval_iw_samples=0"]  # the same grey levels as the others
FIGURES = RESULTS / "figures" / "autoencoders"
MASK = 0.25
JACOBIAN_EXAMPLES = 1000
SPLIT = (
    "test: the published 10000 test images; train: first 50000 training images (codes of the probe), val: last 10000"
)
REFERENCE = {
    "value": 0.9886,
    "source": "Rifai et al. 2011 (ICML), Table 1: the CAE's 1.14% MNIST test error (1000 hidden units), with a"
    " supervised classifier trained on top of the learned features (the paper's protocol could not be re-checked "
    "offline; no frozen linear probe is reported there). Vincent et al. 2008/2010: denoising features "
    "beat plain AE features",
}


def batches(x: torch.Tensor, size: int = 1000):
    return [x[i : i + size] for i in range(0, len(x), size)]


@torch.no_grad()
def measure(recon, encode, data, *, jac_sq, probe_steps: int) -> dict[str, float]:
    """The table's metrics for one model given as functions: recon(x) in [0, 1], encode(x) -> codes."""
    x = data.test.x
    g = torch.Generator().manual_seed(EVAL_SEED)
    masked = [corrupt(b, kind="mask", level=MASK, generator=g) for b in batches(x)]
    r = torch.cat([recon(b) for b in batches(x)])
    out = {
        "mse": float((r - x).pow(2).mean()),
        "psnr": psnr([(r, x)]),
        "denoise_psnr": psnr((recon(m), b) for m, b in zip(masked, batches(x), strict=True)),
    }
    test_codes = torch.cat([encode(b) for b in batches(x)])
    out["code_dim"] = test_codes.shape[1]
    out["mean_activation"] = float(test_codes.mean())
    if jac_sq is not None:
        with torch.enable_grad():
            out["jacobian_norm"] = float(
                torch.cat([jac_sq(b).detach() for b in batches(x[:JACOBIAN_EXAMPLES], 250)]).sqrt().mean()
            )
    train_codes = torch.cat([encode(b) for b in batches(data.train.x)])
    t0 = time.perf_counter()
    out["probe_accuracy"] = linear_probe_accuracy(train_codes, data.train.y, test_codes, data.test.y, steps=probe_steps)
    out["probe_s"] = time.perf_counter() - t0
    return out


def measure_run(name: str, run: RunDir, data, probe_steps: int) -> dict[str, float]:
    loaded = load_run(run.path)
    model, objective = loaded.model.eval(), loaded.spec.objective
    if name.startswith("vae"):
        return measure(
            lambda b: objective.reconstruct(model, b),
            lambda b: model.encode(b)[0],
            data,
            jac_sq=lambda b: jacobian.exact(lambda v: model.encode(v)[0], b),
            probe_steps=probe_steps,
        )
    return measure(
        lambda b: objective.reconstruct(model, b),
        model.encode,
        data,
        jac_sq=lambda b: jacobian.frobenius_sq(model, b),
        probe_steps=probe_steps,
    )


def pca_baseline(k: int, data, probe_steps: int) -> dict[str, float]:
    """PCA with k components fitted on the train images: x -> z = V^T (x - m) -> m + V z, clipped to [0, 1]."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=k, svd_solver="randomized", random_state=0).fit(data.train.x.flatten(1).numpy())
    v = torch.from_numpy(pca.components_).float()  # (k, 784), orthonormal rows
    m = torch.from_numpy(pca.mean_).float()

    def encode(b):
        return (b.flatten(1) - m) @ v.T

    def recon(b):
        return ((encode(b) @ v) + m).clamp(0, 1).reshape(b.shape)

    out = measure(recon, encode, data, jac_sq=None, probe_steps=probe_steps)
    out["jacobian_norm"] = float(k**0.5)  # J = V^T: ||V||_F = sqrt(k)
    return out


def figure(names: list[str], runs: dict[str, RunDir], data, path: Path) -> Path:
    """Rows: 10 test images, their 25% masking, then each model's reconstruction of the masked images."""
    x = data.test.x[:10]
    masked = corrupt(x, kind="mask", level=MASK, generator=torch.Generator().manual_seed(EVAL_SEED))
    rows = [x, masked]
    for name in names:
        loaded = load_run(runs[name].path)
        rows.append(loaded.spec.objective.reconstruct(loaded.model.eval(), masked))
    title = "rows: clean, 25% masked, then from the masked row: " + ", ".join(n.split("_")[0] for n in names)
    return image_grid(torch.cat(rows), path, nrow=10, title=title)


def markdown(table: dict[str, dict[str, float]], epochs: dict[str, int]) -> str:
    head = (
        "| codes | dim | epochs | test MSE/pixel | PSNR (dB) | denoising PSNR, 25% mask (dB) | mean code | "
        "mean ‖J‖_F | linear probe acc. | train s |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for name, m in table.items():
        lines.append(
            f"| {name} | {m['code_dim']} | {epochs.get(name, '–')} | {m['mse']:.4f} | {m['psnr']:.2f} | "
            f"{m['denoise_psnr']:.2f} | {m['mean_activation']:.3f} | "
            f"{m.get('jacobian_norm', float('nan')):.2f} | {100 * m['probe_accuracy']:.2f}% | "
            f"{m.get('train_s', float('nan')):.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10, help="epochs of the MLP models (CPU budget: ~20 min in all)")
    ap.add_argument("--conv-epochs", type=int, default=0, help="epochs of the conv variants (0 = skip them)")
    ap.add_argument("--conv-only", action="store_true", help="only the conv variants (their own table-conv.md)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--probe-steps", type=int, default=100, help="L-BFGS iterations of every linear probe")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 on the shared 2-core machine)")
    ap.add_argument("--runs", type=Path, default=Path("/tmp/dlzoo-bench/runs"))
    ap.add_argument("--smoke", action="store_true", help="2000 training images, 1 epoch, nothing recorded")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    limit = ["data.limit=12000"] if args.smoke else []  # 12000 = 2000 train + the 10000 val
    if args.smoke:
        args.epochs, args.conv_epochs, args.no_record = 1, min(args.conv_epochs, 1), True

    data = load_dataset("mnist", val_size=10000, **({"limit": 12000} if args.smoke else {}))
    if args.conv_only:
        args.conv_epochs = max(args.conv_epochs, 1)
    names = (CONV if args.conv_only else MLP) + (CONV if args.conv_epochs and not args.conv_only else [])
    suffix = "-conv" if args.conv_only else ""
    epochs = {n: (args.conv_epochs if n in CONV else args.epochs) for n in names}
    table: dict[str, dict[str, float]] = {}
    runs: dict[str, RunDir] = {}
    cfgs = {}
    for name in names:
        overrides = [
            f"train.epochs={epochs[name]}",
            f"train.seed={args.seed}",
            f"train.threads={args.threads}",
            "train.progress=false",
            *limit,
            *(VAE_GREY if name.startswith("vae") else ["task.probe=false", "task.jacobian_examples=0"]),
        ]
        cfgs[name] = cfg = resolve_config(name, preset="mnist", overrides=overrides)
        runs[name] = run = RunDir.create(args.runs, name, ("smoke-" if args.smoke else "") + default_run_name())
        result = train_run(cfg, run)
        table[name] = measure_run(name, run, data, args.probe_steps)
        table[name]["train_s"] = result["wall_time_s"]
        print(name, {k: round(v, 4) for k, v in table[name].items()}, flush=True)
    ks = sorted({int(table[n]["code_dim"]) for n in names}, reverse=True)  # PCA with each code size
    for k in ks:
        table[f"PCA {k}"] = pca_baseline(k, data, args.probe_steps)
        print(f"PCA {k}", table[f"PCA {k}"], flush=True)
    pixels = {
        "code_dim": 784,
        "mse": 0.0,
        "psnr": float("inf"),
        "mean_activation": float(data.test.x.mean()),
        "jacobian_norm": 784**0.5,
    }
    g = torch.Generator().manual_seed(EVAL_SEED)
    pixels["denoise_psnr"] = psnr((corrupt(b, kind="mask", level=MASK, generator=g), b) for b in batches(data.test.x))
    pixels["probe_accuracy"] = linear_probe_accuracy(
        data.train.x, data.train.y, data.test.x, data.test.y, steps=args.probe_steps
    )
    table["raw pixels"] = pixels
    md = markdown(table, epochs)
    print(md)
    out_dir = FIGURES if not args.smoke else args.runs / "smoke-figures"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"table{suffix}.md").write_text(md + "\n")
    if not args.conv_only:
        print(figure([n for n in names if n in MLP], runs, data, out_dir / "denoising-mlp.png"))
    if args.conv_epochs:
        print(figure(CONV, runs, data, out_dir / "denoising-conv.png"))
    for name in names:
        src = runs[name].plots_dir / "filters.png"
        if src.is_file():
            (out_dir / f"filters-{name}.png").write_bytes(src.read_bytes())
    if args.no_record:
        return

    baselines = [
        {"name": n, "value": table[n]["probe_accuracy"], "code_dim": table[n]["code_dim"]}
        for n in ("raw pixels", *(f"PCA {k}" for k in ks))
    ]
    for name in names:
        m = table[name]
        common = dict(
            model=name,
            family="autoencoder",
            dataset="mnist (grey levels)",
            dataset_version=cfgs[name].info.get("dataset_version"),
            split=SPLIT,
            seeds=[args.seed],
            wall_time_s=m["train_s"],
            config=cfgs[name].model_dump(mode="json"),
            extra={"metrics": m},
        )
        notes = (
            f"{epochs[name]} epochs (a CPU budget: the papers train far longer), 1 seed, {args.threads} torch "
            f"thread(s) on a 2-core machine shared with other jobs (wall times are inflated); "
            f"probe = softmax regression, L-BFGS {args.probe_steps} iterations on the frozen train codes."
        )
        record(
            "autoencoders_mnist",
            key=f"{name}-probe",
            metric="test/probe_accuracy",
            values=[m["probe_accuracy"]],
            reference=REFERENCE if name == "cae_mlp" else None,
            baselines=baselines,
            notes=notes,
            **common,
        )
        record(
            "autoencoders_mnist",
            key=f"{name}-denoise_psnr",
            metric="test/denoise_psnr (25% mask, dB)",
            values=[m["denoise_psnr"]],
            baselines=[
                {"name": "masked input", "value": pixels["denoise_psnr"]},
                {"name": f"PCA {ks[0]}", "value": table[f"PCA {ks[0]}"]["denoise_psnr"]},
            ],
            notes=notes,
            **common,
        )
    (FIGURES / f"table{suffix}.json").write_text(
        json.dumps({"epochs": epochs, "table": table}, indent=2, default=str) + "\n"
    )


if __name__ == "__main__":
    main()
