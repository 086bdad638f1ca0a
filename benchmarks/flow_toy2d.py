"""Normalizing flows on the 2-D toys (moons, ring of 8 Gaussians, swiss roll): test NLL and wall time of
dlzoo's NSF / MAF / RealNVP beside zuko's NSF and MAF and normflows' RealNVP, all trained the same way.

    flock /tmp/dlzoo-bench.lock nice -n 5 python benchmarks/flow_toy2d.py            # records
    python benchmarks/flow_toy2d.py --smoke                                          # a try, nothing recorded

Protocol: dlzoo's toy loaders (10000 train / 2000 test draws, seed 0); every model trained by the SAME
plain loop below (Adam, lr 1e-3, batch 256, the same batches for every model of a seed, ``--steps``
steps, one thread), then test NLL in nats (mean over the 2000 test points) and the wall time of the
training loop. Ours are built by their registered entrypoints with the toy presets' settings (nsf:
4 spline couplings 64x64, 8 bins; maf: 5 layers 128x128; realnvp: 8 couplings 64x64), fitted by this loop
rather than ``dlzoo train`` so that the loop is identical for ours and theirs. Baselines: zuko.flows.NSF
and zuko.flows.MAF (their defaults: 3 transforms, 64x64) and normflows' RealNVP (8 affine couplings
on alternating masks, 64x64 MLPs, an ActNorm after every second one, as in its RealNVP example).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from collections.abc import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import mean_sd, record  # noqa: E402

from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.layers import fit_standardizers  # noqa: E402
from dlzoo.registry import create_model  # noqa: E402

DATASETS = ("moons", "ring", "swiss_roll")
REFERENCE = "zuko NSF 0.344 nats (23 s), zuko MAF 0.397 (8 s), normflows RealNVP 0.424 on moons, one CPU core"
MOONS_REFERENCE = {"nsf": 0.344, "maf": 0.397, "realnvp": 0.424}  # the paired library's number above
OURS = ("nsf", "maf", "realnvp", "ffjord")
PAIRS = {"nsf": "zuko_nsf", "maf": "zuko_maf", "realnvp": "normflows_realnvp"}


def ours(name: str, train_x: torch.Tensor) -> tuple[torch.nn.Module, Callable]:
    model = create_model(name, input_shape=(2,))
    fit_standardizers(model, train_x)
    return model, lambda m, x: m(x)


def zuko_flow(kind: str) -> tuple[torch.nn.Module, Callable]:
    import zuko

    flow = zuko.flows.NSF(2, transforms=3, hidden_features=(64, 64)) if kind == "nsf" else zuko.flows.MAF(2)
    return flow, lambda m, x: m().log_prob(x)


def normflows_realnvp() -> tuple[torch.nn.Module, Callable]:
    import normflows as nf

    flows = []
    for i in range(8):
        mask = torch.tensor([1.0, 0.0] if i % 2 == 0 else [0.0, 1.0])
        s = nf.nets.MLP([2, 64, 64, 2], init_zeros=True)
        t = nf.nets.MLP([2, 64, 64, 2], init_zeros=True)
        flows.append(nf.flows.MaskedAffineFlow(mask, t, s))
        if i % 2 == 1:
            flows.append(nf.flows.ActNorm(2))  # as in normflows' real_nvp_colab example
    model = nf.NormalizingFlow(nf.distributions.DiagGaussian(2, trainable=False), flows)
    return model, lambda m, x: m.log_prob(x)


def build(name: str, train_x: torch.Tensor) -> tuple[torch.nn.Module, Callable]:
    if name in ("nsf", "maf", "realnvp", "ffjord"):
        return ours(name, train_x)
    if name.startswith("zuko_"):
        return zuko_flow(name.removeprefix("zuko_"))
    return normflows_realnvp()


def fit(name: str, data, *, steps: int, batch: int, seed: int) -> tuple[float, float]:
    """The one loop every model goes through: (test NLL in nats, training wall time in s)."""
    torch.manual_seed(seed)
    model, log_prob = build(name, data.train.x)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    n = len(data.train.x)
    model.train()
    t0 = time.perf_counter()
    for _ in range(steps):
        x = data.train.x[torch.randint(n, (batch,), generator=g)]  # (batch, 2), the same for every model
        loss = -log_prob(model, x).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    wall = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        nll = -float(log_prob(model, data.test.x).mean())
    return nll, wall


def baseline(name: str, nlls: list[float], walls: list[float]) -> dict:
    """A comparison model's row: mean +- sd over the seeds whose test NLL is finite, the diverged ones counted."""
    finite = [v for v in nlls if math.isfinite(v)]
    value, sd = mean_sd(finite) if finite else (float("nan"), 0.0)
    return {
        "name": name,
        "value": value,
        "sd": sd,
        "values": [v if math.isfinite(v) else None for v in nlls],  # null: diverged (strict JSON)
        "diverged_seeds": len(nlls) - len(finite),
        "wall_time_s": statistics.fmean(walls),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--ffjord-steps", type=int, default=3000, help="FFJORD's steps (each costs ~32 evaluations of f)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--data", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--models", nargs="+", default=[*PAIRS, *PAIRS.values()], help="add ffjord to include it")
    p.add_argument("--smoke", action="store_true", help="20 steps, one seed, moons; records nothing")
    p.add_argument("--no-record", action="store_true", help="print only")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.smoke:
        args.steps, args.ffjord_steps, args.seeds, args.data = 20, 20, 1, ["moons"]
    seeds = list(range(args.seeds))
    for ds in args.data:
        data = load_dataset(ds)
        res: dict[str, tuple[list[float], list[float]]] = {m: ([], []) for m in args.models}
        for s in seeds:  # seed-major: every model sees the same machine load, one seed after another
            for m in args.models:
                steps = args.ffjord_steps if m == "ffjord" else args.steps
                nll, wall = fit(m, data, steps=steps, batch=args.batch, seed=s)
                res[m][0].append(nll)
                res[m][1].append(wall)
                print(f"{ds:10s} {m:18s} seed {s}: test NLL {nll:.4f} nats, {wall:.1f} s", flush=True)
        for m in res:
            print(f"{ds:10s} {m:18s} {statistics.fmean(res[m][0]):.4f} nats  {statistics.fmean(res[m][1]):.1f} s")
        if args.smoke or args.no_record:
            continue
        best = min(x for x in (statistics.fmean(v[0]) for v in res.values()) if math.isfinite(x))  # diverged: out
        libraries = {k: baseline(k, *v) for k, v in res.items() if k not in OURS}  # the comparison libraries' rows
        others = list(libraries.values())
        for ours_name, theirs in {**PAIRS, "ffjord": "zuko_nsf"}.items():
            if ours_name not in res or theirs not in res:
                continue
            nll, sd = mean_sd(res[ours_name][0])
            paired = libraries[theirs]  # its finite seeds (a diverged seed is counted there)
            t_nll, t_sd, t_wall = paired["value"], paired["sd"], paired["wall_time_s"]
            wall = statistics.fmean(res[ours_name][1])
            same_run_ours = {k: mean_sd(v[0])[0] for k, v in res.items() if k in OURS and k != ours_name}
            record(
                "flow_toy2d",
                key=f"{ours_name}-{ds}",
                model=ours_name,
                family="flow",
                dataset=ds,
                dataset_version=data.info.version,
                split=data.info.split_note,
                metric="test/nll",
                values=res[ours_name][0],
                seeds=seeds,
                wall_time_s=wall,
                higher_is_better=False,
                reference={"value": MOONS_REFERENCE.get(ours_name) if ds == "moons" else None, "source": REFERENCE},
                baselines=others,
                config={
                    "steps": args.ffjord_steps if ours_name == "ffjord" else args.steps,
                    "batch_size": args.batch,
                    "optimizer": "adam",
                    "lr": 1e-3,
                },
                extra={
                    "paired_with": theirs,
                    "nll_minus_paired": nll - t_nll,
                    "wall_ratio_to_paired": wall / t_wall,
                    "gap_to_best_nats": nll - best,
                    "same_run_ours": same_run_ours,
                },
                notes=(
                    (
                        "FFJORD: only --ffjord-steps steps (rk4, 8 steps, Hutchinson), the others --steps; "
                        if ours_name == "ffjord"
                        else ""
                    )
                    + f"{len(seeds)} seeds x {args.steps} steps, batch {args.batch}, one plain Adam loop for every "
                    f"model on the same batches; {ours_name} {nll:.3f} ± {sd:.3f} vs {theirs} {t_nll:.3f} ± {t_sd:.3f} "
                    f"nats, wall {wall:.1f} s vs {t_wall:.1f} s (shared 2-core machine: times are noisy)"
                ),
            )


if __name__ == "__main__":
    main()
