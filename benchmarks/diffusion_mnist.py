"""Class-conditional DDPM on MNIST: FID / KID, DDIM steps, guidance and bits/dim in the gan family's feature space.

    DLZOO_DATA=../shared/data python benchmarks/diffusion_mnist.py train train.precision=bf16-mixed   # ~15 CPU-min
    DLZOO_DATA=../shared/data python benchmarks/diffusion_mnist.py eval --samples 300   # records, row by row
    python benchmarks/diffusion_mnist.py train --smoke && python benchmarks/diffusion_mnist.py eval --smoke

``train``: the feature network (``lenet --preset mnist``, 2 epochs, as benchmarks/gan_mnist.py trains it)
into ``--runs``/lenet/features unless it exists, then ``ddpm_mnist --preset mnist`` (positional overrides
apply) into ``--runs``/ddpm_mnist/final. The run is trained in stages (``--snapshots``, epochs): after each
stage its directory is copied to ``ddpm_mnist/epoch<k>`` and the run is resumed, so the model as it was
after k epochs (the training time of the gan family's DCGAN, 418 s, for the equal-time row) is kept.

``eval``: one record per row, written as soon as the row is done (a killed job keeps its finished rows):
the real-data floor (``--samples`` training images vs the 10000 test images), then DDIM 10/20/50/100 and
the snapshots with DDIM 50, bits/dim through the probability-flow ODE on the first ``--nll-images``
test images, guidance scales 0/3/5 (DDIM ``--guidance-steps``; scale 1 is the DDIM row of that step
count), and last DDPM with 1000 steps (guidance 1 = the conditional model: the costliest row). Every
row draws ``--samples`` images (labels cycling 0..9, evaluation seed 0) and measures FID / KID against
the 10000 test images in the 256-d penultimate layer of the LeNet (not Inception: not comparable with
published FIDs), the class accuracy of that LeNet on the samples (is the digit the asked-for one), and
the sampling wall time.
Figures: ``benchmarks/results/figures/diffusion_mnist/{steps_fid,guidance}.png`` from the records.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, record  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.families.diffusion.likelihood import nll_data  # noqa: E402
from dlzoo.families.diffusion.samplers import drain, generate  # noqa: E402
from dlzoo.runs import RunDir, load_run  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402

BENCH = "diffusion_mnist"
FEATURES_NOTE = "FID/KID in the 256-d penultimate layer of the gan family's LeNet (not Inception)"
DCGAN = {"name": "gan: dcgan (10000 samples, 418 s of training)", "value": 49.41451013641432, "sd": None}
KMEANS = {"name": "gan: k-means centroids (k=100, 10000 samples)", "value": 55.259167375925244, "sd": None}
FIGURES = RESULTS / "figures" / BENCH


def train(args: argparse.Namespace) -> None:
    root = Path(args.runs)
    feats = RunDir(root / "lenet" / ("features-smoke" if args.smoke else "features"))
    if not (feats.weights_path.is_file() and feats.eval_path.is_file()):
        over = ["train.epochs=2", "train.threads=1", "train.progress=false", "train.checkpoint_every=100"]
        over += ["data.limit=5000"] if args.smoke else []
        res = train_run(resolve_config("lenet", preset="mnist", overrides=over), feats)
        print(
            f"feature network: lenet test/accuracy {res['test/accuracy']:.4f} ({res['wall_time_s']:.0f} s)", flush=True
        )
    preset = "tiny" if args.smoke else "mnist"
    base = [*args.overrides, "train.threads=1", "train.progress=false"]
    base += ["data.name=mnist", "data.limit=2000", "model.levels_of_data=256"] if args.smoke else []
    run = RunDir(root / "ddpm_mnist" / "final")
    if run.path.exists():
        shutil.rmtree(run.path)
    for i, epochs in enumerate([*args.snapshots, None]):
        over = base if epochs is None else [*base, f"train.epochs={epochs}"]
        cfg = resolve_config("ddpm_mnist", preset=preset, overrides=over)
        result = train_run(cfg, run, resume=i > 0)
        print(f"{cfg.train.epochs} epochs: {result['wall_time_s']:.0f} s", flush=True)
        if epochs is not None:
            snap = root / "ddpm_mnist" / f"epoch{epochs}"
            shutil.rmtree(snap, ignore_errors=True)
            shutil.copytree(run.path, snap)


def _row_record(args, key, model_name, metric, value, wall, cfg, *, notes, extra, higher=False, reference=None):
    record(
        BENCH,
        key=key,
        model=model_name,
        family="diffusion",
        dataset="mnist",
        dataset_version=cfg.info.get("dataset_version", "mnist-idx-lecun") if cfg else "mnist-idx-lecun",
        metric=metric,
        values=[value],
        seeds=[0],
        wall_time_s=wall,
        split=f"test: {args.samples} samples (labels cycling 0..9) vs the 10000 published test images",
        higher_is_better=higher,
        reference=reference,
        baselines=[DCGAN, KMEANS] if metric == "test/fid" else [],
        config=cfg.model_dump(mode="json") if cfg else {},
        notes=notes,
        extra=extra,
        precision="32-true",
    )


def evaluate(args: argparse.Namespace) -> None:
    from dlzoo.metrics.image_quality import feature_extractor, generation_metrics, real_floor

    root = Path(args.runs)
    feats_path = root / "lenet" / ("features-smoke" if args.smoke else "features")
    features, classifier = feature_extractor(feats_path), load_run(feats_path).model.eval()
    data = load_dataset("mnist")
    real, n = data.test.x, args.samples
    kid = {"kid_subset_size": min(1000, n)}
    final = load_run(root / "ddpm_mnist" / "final")
    train_s = json.loads((final.run.path / "eval.json").read_text())["wall_time_s"]
    floor = real_floor(data.train.x[:n], real, features=features, **kid)
    print(f"real floor at {n}: {floor}", flush=True)
    note = (
        f"{FEATURES_NOTE}; {n} samples per row (the real-data floor at {n}: FID {floor['fid']:.3f}); "
        f"training: bf16-mixed autocast, sampling fp32; 1 torch thread on a machine shared with other jobs (2 cores)"
    )
    ref = {"value": floor["fid"], "source": f"real floor: {n} training vs the 10000 test images, same features"}
    if "floor" in args.rows and not args.smoke:
        _row_record(
            args, "floor-fid", f"real floor ({n} training images)", "test/fid", floor["fid"], 0.0, None,
            notes=note, extra={"kid": floor["kid"], "kid_std": floor["kid_std"]},
        )  # fmt: skip
    rows = []  # (key, run, sampler, steps, guidance)
    for spec in ("ddim:10", "ddim:20", "ddim:50", "ddim:100"):
        name, steps = spec.split(":")
        rows.append((f"{name}-{steps}", "final", name, int(steps), 1.0))
    rows += [(f"epoch{e}-ddim-50", f"epoch{e}", "ddim", 50, 1.0) for e in args.snapshot_rows]
    rows += [(f"guidance-{w:g}", "final", "ddim", args.guidance_steps, w) for w in (0.0, 3.0, 5.0)]
    rows += [("ddpm-1000", "final", "ddpm", 1000, 1.0)]  # the costliest row last
    for key, run_name, sampler, steps, w in rows:
        group = key.split("-")[0] if not key.startswith(("ddim", "ddpm")) else "steps"
        if group not in args.rows and key not in args.rows:
            continue
        if key == "guidance-0" and "bpd" in args.rows:
            bits_per_dim(args, final, train_s)  # before the guidance rows: cheaper, and a goal of the task
        loaded = final if run_name == "final" else load_run(root / "ddpm_mnist" / run_name)
        model = loaded.model.eval()
        steps = min(steps, model.T)
        labels = torch.arange(n) % model.num_classes
        t0 = time.perf_counter()
        with torch.no_grad():
            gen = generate(model, n, sampler=sampler, steps=steps, labels=labels, guidance=w,
                           generator=torch.Generator().manual_seed(0))  # fmt: skip
            x = drain(gen)
        wall = time.perf_counter() - t0
        m = generation_metrics(x, real, features=features, **kid)
        with torch.no_grad():
            acc = float((classifier(x).argmax(1) == labels).float().mean())
        trained = json.loads((loaded.run.path / "eval.json").read_text())["wall_time_s"]
        print(f"{key}: {n} samples in {wall:.1f} s, accuracy {acc:.4f}", {k: round(v, 4) for k, v in m.items()})
        if args.smoke:
            continue
        label = f"ddpm_mnist: {sampler.upper()} {steps} steps, guidance {w:g}"
        label += "" if run_name == "final" else f", after {run_name[5:]} epochs ({trained:.0f} s)"
        extra = {
            "kid": m["kid"], "kid_std": m["kid_std"], "class_accuracy": acc, "sampler": sampler, "steps": steps,
            "guidance": w, "sampling_s": wall, "sampling_s_per_sample": wall / n, "training_s": trained,
            "real_floor": floor, "run": str(loaded.run.path),
        }  # fmt: skip
        _row_record(args, f"{key}-fid", label, "test/fid", m["fid"], trained, loaded.config, notes=note,
                    extra=extra, reference=ref)  # fmt: skip
        if key.startswith("ddim") or key.startswith("ddpm"):
            pass
    if "bpd" in args.rows and not any(k.startswith("guidance") for k, *_ in rows if "guidance" in args.rows):
        bits_per_dim(args, final, train_s)
    if not args.smoke:
        plot()


def bits_per_dim(args: argparse.Namespace, final, train_s: float) -> None:
    model = final.model.eval()
    data = load_dataset("mnist")
    x = data.test.x[: args.nll_images]
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    nll = torch.cat([nll_data(model, b, steps=args.nll_steps, generator=g) for b in x.split(50)])
    wall = time.perf_counter() - t0
    bpd = nll / (x[0].numel() * math.log(2))
    print(f"bits/dim on {len(x)} test images: {bpd.mean():.4f} ± {bpd.std() / len(x) ** 0.5:.4f} ({wall:.0f} s)")
    if args.smoke:
        return
    record(
        BENCH,
        key="bits_per_dim",
        model="ddpm_mnist (probability-flow ODE)",
        family="diffusion",
        dataset="mnist",
        dataset_version=final.config.info.get("dataset_version"),
        metric="test/bits_per_dim",
        values=[float(bpd.mean())],
        seeds=[0],
        wall_time_s=train_s,
        split=f"test: the first {len(x)} of the 10000 published test images, uniform dequantization (256 levels)",
        higher_is_better=False,
        config=final.config.model_dump(mode="json"),
        notes=f"RK4 with {args.nll_steps} steps on the probability-flow ODE, Hutchinson trace (one Rademacher "
        f"vector per image), EMA weights, fp32; an upper bound on -log2 P(x) per dimension; standard error "
        f"over images {float(bpd.std() / len(x) ** 0.5):.4f}; 1 torch thread, shared 2-core machine",
        extra={"nll_s": wall, "nll_images": len(x), "rk4_steps": args.nll_steps, "per_image_sd": float(bpd.std())},
        precision="32-true",
    )


def plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob(f"{BENCH}-*-fid.json"))]
    FIGURES.mkdir(parents=True, exist_ok=True)
    steps = sorted((r for r in recs if r.get("sampler") and r.get("guidance") == 1.0 and "epoch" not in r["model"]),
                   key=lambda r: r["steps"])  # fmt: skip
    floor = next((r["value"] for r in recs if r["model"].startswith("real floor")), None)
    if steps:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for sampler, mark in (("ddim", "o-"), ("ddpm", "s")):
            pts = [(r["steps"], r["value"]) for r in steps if r["sampler"] == sampler]
            if pts:
                ax.plot(*zip(*pts, strict=True), mark, label=sampler.upper())
        ax.axhline(DCGAN["value"], color="gray", ls="--", label="DCGAN (gan family)")
        if floor is not None:
            ax.axhline(floor, color="green", ls=":", label="real-data floor")
        ax.set(xscale="log", xlabel="denoising steps", ylabel="FID (LeNet features)", title="MNIST: steps vs FID")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(FIGURES / "steps_fid.png", dpi=120)
        plt.close(fig)
    guid = sorted((r for r in recs if r.get("sampler") == "ddim" and "epoch" not in r["model"]),
                  key=lambda r: r["guidance"])  # fmt: skip
    guid = [r for r in guid if r["steps"] == guid[-1]["steps"] or r["guidance"] != 1.0] if guid else []
    gsteps = {r["steps"] for r in guid if r["guidance"] != 1.0}
    guid = [r for r in guid if r["steps"] in gsteps]
    if len(guid) > 1:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ws = [r["guidance"] for r in guid]
        ax.plot(ws, [r["value"] for r in guid], "o-", color="C0")
        ax.set(xlabel="guidance scale w", ylabel="FID", title=f"guidance (DDIM {min(gsteps)} steps)")
        ax2 = ax.twinx()
        ax2.plot(ws, [r["class_accuracy"] for r in guid], "s--", color="C1")
        ax2.set_ylabel("class accuracy (LeNet)", color="C1")
        fig.tight_layout()
        fig.savefig(FIGURES / "guidance.png", dpi=120)
        plt.close(fig)


def speed(args: argparse.Namespace) -> None:
    """Median seconds of one Adam step (batch 128) and of one no-grad forward (batch 500) of the U-Net."""
    from dlzoo.families.diffusion.networks import UNet

    for channels, mults in ((32, (1, 2, 2)), (16, (1, 2, 2))):
        for prec, cl, batch, infer in [(p, c, 128, False) for p in ("fp32", "bf16") for c in (False, True)] + [
            (p, False, 500, True) for p in ("fp32", "bf16")
        ]:
            torch.manual_seed(0)
            net = UNet(1, channels=channels, mults=mults, num_classes=10)
            opt = torch.optim.Adam(net.parameters(), 1e-4)
            x, t, y = torch.randn(batch, 1, 28, 28), torch.rand(batch) * 999, torch.randint(0, 10, (batch,))
            if cl:
                net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
            times = []
            for i in range(args.repeats + 2):
                t0 = time.perf_counter()
                with (
                    torch.autocast("cpu", dtype=torch.bfloat16, enabled=prec == "bf16"),
                    torch.set_grad_enabled(not infer),
                ):
                    out = net(x, t, y)
                if not infer:
                    opt.zero_grad()
                    out.float().pow(2).mean().backward()
                    opt.step()
                times += [time.perf_counter() - t0] if i >= 2 else []
            params = sum(q.numel() for q in net.parameters())
            what = "forward" if infer else "train step"
            print(f"channels {channels} ({params / 1e6:.2f}M) {prec} channels_last={cl} batch {batch} {what}: "
                  f"{sorted(times)[len(times) // 2]:.3f} s (median of {args.repeats})", flush=True)  # fmt: skip


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="stage", required=True)
    t = sub.add_parser("train")
    t.add_argument("overrides", nargs="*", help="dotted overrides of the diffusion run, e.g. train.epochs=4")
    t.add_argument("--snapshots", nargs="*", type=int, default=[2], help="epochs after which the run is kept")
    e = sub.add_parser("eval")
    e.add_argument("--samples", type=int, default=300, help="samples per row (and training images of the floor)")
    e.add_argument("--rows", nargs="+", default=["floor", "steps", "epoch1", "epoch2", "bpd", "guidance"])
    e.add_argument("--snapshot-rows", nargs="*", type=int, default=[1, 2], help="snapshots evaluated (DDIM 50)")
    e.add_argument("--guidance-steps", type=int, default=20, help="DDIM steps of the guidance rows")
    e.add_argument("--nll-images", type=int, default=50)
    e.add_argument("--nll-steps", type=int, default=20, help="RK4 steps of the likelihood ODE")
    sp = sub.add_parser("speed")
    sp.add_argument("--repeats", type=int, default=5)
    for s in (t, e):
        s.add_argument("--runs", default="runs/diffusion_mnist")
        s.add_argument("--smoke", action="store_true", help="tiny preset on the 8x8 digits")
    a = p.parse_args()
    torch.set_num_threads(1)
    {"train": train, "eval": evaluate, "speed": speed}[a.stage](a)
