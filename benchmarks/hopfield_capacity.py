"""Hopfield networks: the classical network's capacity on random patterns, and the modern network
retrieving MNIST digits from half-masked queries.

    flock /tmp/dlzoo-bench.lock nice -n 5 python benchmarks/hopfield_capacity.py
    python benchmarks/hopfield_capacity.py --smoke          # seconds, records nothing

Classical (``ClassicalHopfield``, Hebbian storage W = S^T S / N, zero diagonal): for N units and load
alpha = P / N, store P random +-1 patterns, start the network at each stored pattern (at most
``--probes`` of them) and run asynchronous sweeps until no unit changes. A pattern is retrieved when the
final overlap m = xi . s / N is at least 0.95 (the retrieval state of Amit, Gutfreund & Sompolinsky has
m > 0.967 up to alpha_c = 0.138 and collapses beyond). The curve: retrieval success against alpha for
each N; the knee is where the success falls through 0.5 (linear interpolation).

Modern (``ModernHopfield``): the first P training digits of MNIST (threshold 0.5, +-1 spins) are the
memories X; each query is a stored digit with its lower half hidden (set to 0, "unknown"); one update
xi <- X^T softmax(beta X xi). Retrieved when the memory closest to the new state is the digit itself;
``pixel_error`` is the mean error on the hidden half.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DLZOO_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))  # ../shared/data

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, record  # noqa: E402

from dlzoo.families.energy.hopfield import ClassicalHopfield, ModernHopfield, spins  # noqa: E402

ALPHA_C = 0.138
REF_CLASSICAL = {
    "value": ALPHA_C,
    "source": "Amit, Gutfreund & Sompolinsky 1985 (Phys. Rev. Lett. 55, 1530): critical load alpha_c = 0.138 "
    "of the Hebbian Hopfield network",
}


def capacity_point(n: int, alpha: float, seed: int, probes: int) -> tuple[float, float]:
    """(success fraction, mean final overlap) of the Hebbian network with P = round(alpha n) patterns."""
    g = torch.Generator().manual_seed(seed)
    p = max(1, round(alpha * n))
    x = torch.randint(0, 2, (p, n), generator=g).float()  # (P, N) random patterns
    net = ClassicalHopfield(input_shape=(n,))
    net.store(x, rule="hebbian")
    xi = spins(x[:probes])  # (probes, N) start at the stored patterns
    s, _ = net.run(xi, mode="async", max_steps=30, generator=g)
    m = (s * xi).mean(1)  # (probes,) overlaps
    return float((m >= 0.95).float().mean()), float(m.mean())


def knee(alphas: list[float], success: list[float]) -> float:
    """The first load where the success falls through 0.5 (linear interpolation), or nan."""
    for (a0, s0), (a1, s1) in zip(
        zip(alphas, success, strict=True), zip(alphas[1:], success[1:], strict=True), strict=False
    ):
        if s0 >= 0.5 > s1:
            return a0 + (s0 - 0.5) * (a1 - a0) / (s0 - s1)
    return float("nan")


def plot_capacity(curves: dict[int, tuple[list[float], list[float], list[float]]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for n, (alphas, mean, sd) in curves.items():
        ax.errorbar(alphas, mean, yerr=sd, marker="o", ms=3, capsize=2, label=f"N = {n}")
    ax.axvline(ALPHA_C, color="gray", ls="--", lw=1, label="alpha_c = 0.138 (Amit et al. 1985)")
    ax.set_xlabel("load alpha = P / N")
    ax.set_ylabel("retrieval success (overlap >= 0.95)")
    ax.set_title("Hebbian Hopfield network: random patterns, async updates")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_modern(rows: list[dict], examples: torch.Tensor, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 1.3]})
    for beta in sorted({r["beta"] for r in rows}):
        pts = sorted((r["n_memories"], r["retrieval_accuracy"]) for r in rows if r["beta"] == beta)
        ax.plot([p for p, _ in pts], [a for _, a in pts], marker="o", label=f"beta = {beta:g}")
    ax.set_xscale("log")
    ax.set_xlabel("stored MNIST digits P")
    ax.set_ylabel("retrieval accuracy (half-masked queries)")
    ax.set_title("modern Hopfield network, one update")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    n = examples.shape[1]
    ax2.imshow(examples.reshape(3, n, 28, 28).permute(0, 2, 1, 3).reshape(3 * 28, n * 28), cmap="gray")
    ax2.set_title("rows: stored digit, half-masked query, retrieved (one update)", fontsize=9)
    ax2.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 500, 1000])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--probes", type=int, default=50, help="stored patterns retrieved per network")
    ap.add_argument("--memories", type=int, nargs="+", default=[1000, 10000, 60000])
    ap.add_argument("--betas", type=float, nargs="+", default=[0.05, 0.2, 1.0])
    ap.add_argument("--queries", type=int, default=1000, help="stored digits queried per point")
    ap.add_argument("--smoke", action="store_true", help="N = 100 only, 2 seeds, 1000 digits, records nothing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.smoke:
        args.sizes, args.seeds, args.memories, args.queries = [100], 2, [1000], 200
    alphas = [round(0.02 * i, 2) for i in range(1, 16)]  # 0.02 .. 0.30

    t0 = time.perf_counter()
    curves, knees = {}, {}
    for n in args.sizes:
        mean, sd = [], []
        for a in alphas:
            vals = torch.tensor([capacity_point(n, a, seed, args.probes)[0] for seed in range(args.seeds)])
            mean.append(float(vals.mean()))
            sd.append(float(vals.std()) if len(vals) > 1 else 0.0)
        curves[n] = (alphas, mean, sd)
        knees[n] = knee(alphas, mean)
        print(
            f"N={n}: success {[round(m, 2) for m in mean]}, knee alpha = {knees[n]:.3f} "
            f"({time.perf_counter() - t0:.0f} s)"
        )
    classical_s = time.perf_counter() - t0
    out = RESULTS if not args.smoke else Path("/tmp")
    png = plot_capacity(curves, out / "hopfield_capacity-classical.png")

    from dlzoo.data import load_dataset

    t1 = time.perf_counter()
    data = load_dataset("mnist", flatten=True, binarize="threshold")
    x = data.train.x  # (60000, 784) in {0, 1}
    rows = []
    for p in args.memories:
        for beta in args.betas:
            net = ModernHopfield(input_shape=(784,), n_memories=p, beta=beta)
            net.store(x)
            idx = torch.linspace(0, p - 1, min(args.queries, p)).long()  # queries spread over the memories
            hits = retrieval_metrics_subset(net, x[:p], idx)
            rows.append({"n_memories": p, "beta": beta, **hits})
            print(rows[-1])
    modern_s = time.perf_counter() - t1
    best = max((r for r in rows if r["n_memories"] == max(args.memories)), key=lambda r: r["retrieval_accuracy"])
    net = ModernHopfield(input_shape=(784,), n_memories=best["n_memories"], beta=best["beta"])
    net.store(x)
    ex = x[:10]
    query = ex.clone()
    query[:, 392:] = 0.5
    with torch.no_grad():
        examples = torch.stack([ex, query, net(query).reshape(10, -1)])  # (3, 10, 784)
    png2 = plot_modern(rows, examples, out / "hopfield_capacity-modern.png")
    print(f"figures: {png}, {png2}")
    if args.smoke:
        return
    n_max = max(args.sizes)
    record(
        "hopfield_capacity",
        key="classical",
        model="hopfield",
        family="energy",
        dataset="random +-1 patterns",
        split="stored patterns as queries (the network's own memories)",
        metric=f"knee alpha (N={n_max})",
        values=[knees[n_max]],
        seeds=list(range(args.seeds)),
        wall_time_s=classical_s,
        reference=REF_CLASSICAL,
        notes=(
            f"Hebbian storage, async updates to a fixed point from each stored pattern ({args.probes} probes per "
            f"network, {args.seeds} seeds per point); success = overlap >= 0.95; the knee is where the mean success "
            f"falls through 0.5. Knees: "
            + ", ".join(f"N={n}: {k:.3f}" for n, k in knees.items())
            + "; figure benchmarks/results/hopfield_capacity-classical.png"
        ),
        config={"sizes": args.sizes, "alphas": alphas, "probes": args.probes, "seeds": args.seeds},
        extra={
            "curves": {str(n): {"alphas": c[0], "success": c[1], "sd": c[2]} for n, c in curves.items()},
            "knees": knees,
        },
    )
    record(
        "hopfield_capacity",
        key="modern",
        model="modern_hopfield",
        family="energy",
        dataset="mnist (threshold 0.5)",
        dataset_version=data.info.version,
        split="stored training digits as half-masked queries",
        metric=f"retrieval accuracy (P={best['n_memories']}, beta={best['beta']:g})",
        values=[best["retrieval_accuracy"]],
        seeds=[0],
        wall_time_s=modern_s,
        reference={
            "value": None,
            "source": "Ramsauer et al. 2021, Hopfield Networks is All You Need (ICLR): one update retrieves",
        },
        notes=(
            f"{args.queries} stored digits queried per point (spread over the memories), lower half hidden, one "
            f"update; figure benchmarks/results/hopfield_capacity-modern.png"
        ),
        config={"memories": args.memories, "betas": args.betas, "queries": args.queries},
        extra={"grid": rows},
    )


def retrieval_metrics_subset(net: ModernHopfield, stored: torch.Tensor, idx: torch.Tensor) -> dict[str, float]:
    """Half-masked retrieval of the stored patterns at ``idx`` (``retrieval_metrics`` over a subset)."""
    from dlzoo.families.energy.hopfield_objective import half_mask

    query, hidden = half_mask(stored[idx])
    hits, err = 0, 0.0
    for start in range(0, len(idx), 250):
        s, _ = net.run(spins(query[start : start + 250]))
        best = (s @ net.memories.T).argmax(1)
        hits += int((best == idx[start : start + 250]).sum())
        err += float(((s + 1) / 2 - stored[idx[start : start + 250]]).abs()[hidden[start : start + 250]].sum())
    return {"retrieval_accuracy": hits / len(idx), "pixel_error": err / int(hidden.sum())}


if __name__ == "__main__":
    main()
