"""RBMs on binarized MNIST: test log-likelihood in nats from the exact log Z and from AIS, against
scikit-learn's BernoulliRBM in the same run.

    flock /tmp/dlzoo-bench.lock nice -n 5 python benchmarks/rbm_mnist.py          # 25 hidden: ours vs sklearn
    flock /tmp/dlzoo-bench.lock nice -n 5 python benchmarks/rbm_mnist.py --large  # 500 hidden, AIS only
    python benchmarks/rbm_mnist.py --smoke                                          # seconds, records nothing

Data: LeCun's MNIST binarized once by a seeded Bernoulli draw of the grey levels (``binarize=stochastic``,
seed 0), 60000 train / 10000 test (Salakhutdinov & Murray 2008 used the same split; their draw is not
published). Ours: ``rbm`` preset ``mnist25`` (PCD-1 with 100 chains, SGD lr 0.01, momentum 0.9, cosine
decay, weight cost 2e-4, batch 100, 30 epochs) through the dlzoo loop (``train_run``); its final
evaluation computes the exact test log-likelihood by enumerating the 2^25 hidden states and the AIS
estimate (100 chains, 14500 temperatures, base-rate model) of the same model. scikit-learn's
``BernoulliRBM`` (PCD-1, plain SGD) gets the same hidden size, epochs and batch size, on the same binary
images, twice: at our learning rate and at our effective step lr / (1 - momentum) (it has no momentum);
its weights (``components_``, ``intercept_hidden_``, ``intercept_visible_``) are loaded into our RBM and
scored by the same code.
Both train with one thread (torch and BLAS).

``--large``: the 500-hidden model (``mnist500``, the same PCD recipe, 160 epochs) for the CPU-minutes a
shared CPU allows, scored by AIS only (2^500 states cannot be enumerated).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DLZOO_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))  # ../shared/data
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # scikit-learn's BLAS on one thread, like torch

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

from safetensors.torch import load_file  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.families.energy.objective import mean_neg_free_energy  # noqa: E402
from dlzoo.families.energy.partition import base_rate_loglik, log_z_ais, log_z_exact  # noqa: E402
from dlzoo.families.energy.rbm import RBM, base_rate_bias  # noqa: E402
from dlzoo.runs import RunDir, default_run_name  # noqa: E402
from dlzoo.training import train_run  # noqa: E402

SOURCE = (
    "Salakhutdinov & Murray 2008, On the quantitative analysis of deep belief networks (ICML), Table 1/2: "
    "binarized MNIST test log-probability per image"
)
SPLIT = "test: the 10000 published MNIST test images (binarized with seed 0); train: all 60000"


def sklearn_rbm(
    x: torch.Tensor, *, hidden: int, epochs: int, lr: float, batch: int, seed: int
) -> tuple[RBM, float, float]:
    """BernoulliRBM (PCD-1) fitted on x (N, 784); its weights in our RBM, its fit wall and CPU time."""
    from sklearn.neural_network import BernoulliRBM

    sk = BernoulliRBM(n_components=hidden, learning_rate=lr, batch_size=batch, n_iter=epochs, random_state=seed)
    t0, cpu0 = time.perf_counter(), time.process_time()
    sk.fit(x.numpy().astype("float64"))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rbm = RBM(input_shape=(x.shape[1],), n_hidden=hidden)
    with torch.no_grad():
        rbm.W.copy_(torch.from_numpy(sk.components_).float())  # (H, D)
        rbm.c.copy_(torch.from_numpy(sk.intercept_hidden_).float())  # (H,)
        rbm.b.copy_(torch.from_numpy(sk.intercept_visible_).float())  # (D,)
    return rbm, wall, cpu


def score(rbm: RBM, train_x: torch.Tensor, test_x: torch.Tensor, *, exact: bool, chains: int, betas: int) -> dict:
    """Exact (if asked) and AIS test log-likelihoods of an RBM, nats per image, and their timings."""
    out: dict[str, float] = {}
    neg_f = mean_neg_free_energy(rbm, test_x)
    if exact:
        t0 = time.perf_counter()
        out["log_z_exact"] = float(log_z_exact(rbm, max_hidden=rbm.n_hidden))
        out["loglik_exact"] = neg_f - out["log_z_exact"]
        out["exact_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ais = log_z_ais(
        rbm,
        base_rate_bias(train_x),
        n_chains=chains,
        n_betas=betas,
        generator=torch.Generator().manual_seed(0),
        budget_gflop=1e5,
    )
    out.update(
        log_z_ais=ais.log_z,
        loglik_ais=neg_f - ais.log_z,
        loglik_ais_3sd=[neg_f - ais.log_z_high, neg_f - ais.log_z_low],
        ais_s=time.perf_counter() - t0,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--large", action="store_true", help="the 500-hidden model, AIS only")
    ap.add_argument("--epochs", type=int, default=None, help="training epochs (default: the preset's)")
    ap.add_argument("--lr", type=float, default=None, help="learning rate (default: the preset's)")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--k", type=int, default=1, help="Gibbs sweeps per negative sample (CD-k / PCD-k)")
    ap.add_argument("--cd", action="store_true", help="CD-k (chains restarted at the data) instead of PCD")
    ap.add_argument("--weight-cost", type=float, default=None, help="L2 on W (default: the preset's)")
    ap.add_argument("--ais-betas", type=int, default=14500)
    ap.add_argument("--ais-chains", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=Path, default=Path("/tmp/dlzoo-bench/runs"))
    ap.add_argument(
        "--timing",
        type=int,
        default=0,
        help="25 hidden: only time training, ours and scikit-learn's alternately, this many times each",
    )
    ap.add_argument("--smoke", action="store_true", help="12 hidden, 1 epoch, 2000 images, records nothing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    hidden = 500 if args.large else 25
    preset = "mnist500" if args.large else "mnist25"
    data_over = []
    if args.smoke:
        hidden, args.epochs, args.ais_betas = 12, 1, 300
        data_over = ["data.limit=2000"]
    overrides = [
        f"model.n_hidden={hidden}",
        *([f"train.epochs={args.epochs}"] if args.epochs is not None else []),
        *([f"train.lr={args.lr}"] if args.lr is not None else []),
        *([f"task.weight_cost={args.weight_cost}"] if args.weight_cost is not None else []),
        *(["task.persistent=false"] if args.cd else []),
        f"train.batch_size={args.batch}",
        f"train.seed={args.seed}",
        "train.threads=1",
        "train.progress=false",
        f"task.k={args.k}",
        f"task.ais_betas={args.ais_betas}",
        f"task.ais_chains={args.ais_chains}",
        # 25 units: the run's final evaluation skips the log-likelihoods, which score() computes below for
        # ours and scikit-learn's alike, so the run's CPU time is training (plus data loading and plots)
        *([] if args.large else ["task.exact_max_hidden=0", "task.ais_chains=0"]),
        *data_over,
    ]
    cfg = resolve_config("rbm", preset=preset, overrides=overrides)
    epochs, lr, task = cfg.train.epochs, cfg.train.lr, cfg.task
    recipe = f"{'PCD' if task['persistent'] else 'CD'}-{task['k']}"
    if task["persistent"]:
        recipe += f" ({task['n_chains'] or args.batch} chains)"
    if task.get("weight_cost"):
        recipe += f", weight cost {task['weight_cost']:g}"
    run = RunDir.create(args.runs, "rbm", ("smoke-" if args.smoke else "") + default_run_name())
    if args.timing:
        timing(args, cfg, epochs, lr, common_args=(preset, overrides))
        return
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = train_run(cfg, run)
    total, ours_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    ours_train = result["wall_time_s"]
    test = {k: v for k, v in result.items() if k.startswith("test/")}
    print(f"ours: {epochs} epochs in {ours_train:.0f} s, final evaluation {total - ours_train:.0f} s: {test}")

    data = load_dataset(
        "mnist", flatten=True, binarize="stochastic", binarize_seed=0, limit=2000 if args.smoke else None
    )
    train_x, test_x = data.train.x, data.test.x
    base = float(base_rate_loglik(test_x, base_rate_bias(train_x)).mean())
    print(f"base-rate model: {base:.2f} nats")
    common = dict(
        family="energy",
        dataset="mnist (binarized)",
        dataset_version=cfg.info["dataset_version"],
        split=SPLIT,
        seeds=[args.seed],
        config={**cfg.model_dump(mode="json"), "threads": 1},
    )
    if args.large:
        note = (
            f"{recipe}, SGD lr {lr:g} momentum 0.9 with a cosine decay, {epochs} epochs "
            f"({ours_train / 60:.1f} wall-minutes of training on a shared core; the whole run, AIS included, "
            f"used {ours_cpu / 60:.1f} CPU-minutes; the "
            f"published models trained far longer), AIS with {args.ais_chains} chains x {args.ais_betas} "
            f"temperatures from the base-rate model (log-likelihood +-3 sd of the AIS weights: "
            f"{test.get('test/loglik_ais_low', float('nan')):.2f} at the low end)"
        )
        print(note)
        if args.smoke:
            return
        record(
            "rbm_mnist",
            key="rbm500-ais",
            model="rbm",
            metric="test/loglik_ais",
            values=[test["test/loglik_ais"]],
            wall_time_s=ours_train,
            reference={"value": -125.53, "source": SOURCE + ", 500 hidden, CD-1 (CD-3 -105.5, CD-25 -86.3)"},
            notes=note,
            extra={"test": test, "base_rate_loglik": base, "epochs": epochs, "run_dir": str(run.path)},
            **common,
        )
        return

    # scikit-learn at our learning rate, and at our effective step lr / (1 - momentum) (it has no momentum)
    momentum = cfg.train.momentum
    sk_lrs = [lr] if args.smoke else [lr, lr / (1 - momentum)]
    baselines, sk_all = [], {}
    for sk_lr in sk_lrs:
        sk, sk_train, sk_cpu = sklearn_rbm(
            train_x, hidden=hidden, epochs=epochs, lr=sk_lr, batch=args.batch, seed=args.seed
        )
        sk_scores = score(sk, train_x, test_x, exact=True, chains=args.ais_chains, betas=args.ais_betas)
        print(f"scikit-learn BernoulliRBM (PCD-1) lr {sk_lr:g}: fit {sk_train:.0f} s, {sk_scores}")
        sk_all[f"lr={sk_lr:g}"] = {**sk_scores, "fit_s": sk_train, "fit_cpu_s": sk_cpu}
        baselines.append(
            {
                "name": f"sklearn.neural_network.BernoulliRBM (PCD-1), learning_rate {sk_lr:g}",
                "value": sk_scores["loglik_exact"],
                "sd": 0.0,
                "wall_time_s": sk_train,
                "cpu_time_s": sk_cpu,
                "loglik_ais": sk_scores["loglik_ais"],
            }
        )
    mine = RBM(input_shape=(train_x.shape[1],), n_hidden=hidden)
    mine.load_state_dict(load_file(run.weights_path))
    ours = score(mine, train_x, test_x, exact=True, chains=args.ais_chains, betas=args.ais_betas)
    print(f"ours: train {ours_train:.0f} s wall, {ours_cpu:.0f} s CPU (the whole run); {ours}")
    gap = abs(ours["loglik_ais"] - ours["loglik_exact"])
    print(f"ours: exact {ours['loglik_exact']:.2f}, AIS {ours['loglik_ais']:.2f} (|AIS - exact| = {gap:.3f} nats)")
    if args.smoke:
        return
    note = (
        f"one seed; {recipe}, SGD lr {lr:g} momentum 0.9 with a cosine decay, batch {args.batch}, "
        f"{epochs} epochs; exact log Z by "
        f"enumerating 2^{hidden} hidden states; AIS ({args.ais_chains} chains x {args.ais_betas} temperatures, "
        f"base-rate model) on the same model is {ours['loglik_ais']:.2f} (|AIS - exact| = {gap:.3f} nats). "
        f"scikit-learn BernoulliRBM (PCD-1, plain SGD, same hidden size, epochs and batch; learning rate ours, "
        f"{lr:g}, and our effective step {lr / (1 - momentum):g} = lr / (1 - momentum)) scored with the same code. "
        f"Base-rate model: {base:.2f} nats. CPU time: ours {ours_cpu:.0f} s for the whole run (data loading, "
        f"training, checkpoints, plots), scikit-learn's fits "
        + ", ".join(f"{b['cpu_time_s']:.0f} s" for b in baselines)
    )
    record(
        "rbm_mnist",
        key="rbm25-exact",
        model="rbm",
        metric="test/loglik_exact",
        values=[ours["loglik_exact"]],
        wall_time_s=ours_train,
        reference={"value": -143.0, "source": SOURCE + ", 25 hidden units, CD-1 (exact)"},
        baselines=baselines,
        notes=note,
        extra={
            "test": test,
            "ours": ours,
            "cpu_time_s": ours_cpu,
            "ais_minus_exact": ours["loglik_ais"] - ours["loglik_exact"],
            "sklearn": sk_all,
            "base_rate_loglik": base,
            "epochs": epochs,
            "run_dir": str(run.path),
        },
        **common,
    )


def timing(args: argparse.Namespace, cfg, epochs: int, lr: float, *, common_args: tuple) -> None:
    """Training time only, ours (the whole ``train_run``: data loading, loop, checkpoints, plots; no
    log-likelihood) against scikit-learn's ``fit`` at the same epochs and learning rate, alternately
    ``--timing`` times each, so that both see the same load on a shared machine; medians recorded."""
    import statistics

    preset, overrides = common_args
    data = load_dataset("mnist", flatten=True, binarize="stochastic", binarize_seed=0)
    x = data.train.x.flatten(1)
    ours, theirs = [], []
    for i in range(args.timing):
        run = RunDir.create(args.runs, "rbm", f"timing-{default_run_name()}-{i}")
        t0, cpu0 = time.perf_counter(), time.process_time()
        result = train_run(cfg, run)
        ours.append(
            {"wall": time.perf_counter() - t0, "cpu": time.process_time() - cpu0, "loop": result["wall_time_s"]}
        )
        _, wall, cpu = sklearn_rbm(x, hidden=cfg.model["n_hidden"], epochs=epochs, lr=lr, batch=args.batch, seed=0)
        theirs.append({"wall": wall, "cpu": cpu})
        print(f"timing {i}: ours {ours[-1]}, scikit-learn {theirs[-1]}", flush=True)
    med = {k: statistics.median(r[k] for r in ours) for k in ("wall", "cpu", "loop")}
    sk = {k: statistics.median(r[k] for r in theirs) for k in ("wall", "cpu")}
    note = (
        f"{args.timing} alternating runs each, medians; ours: the whole train_run of preset {preset} "
        f"({epochs} epochs: data loading, training loop, checkpoints, plots; no log-likelihood), "
        f"{med['wall']:.1f} s wall ({med['loop']:.1f} s in the training loop), {med['cpu']:.1f} s CPU; "
        f"scikit-learn BernoulliRBM.fit (PCD-1, same hidden size, epochs, batch, learning rate {lr:g}): "
        f"{sk['wall']:.1f} s wall, {sk['cpu']:.1f} s CPU. Value: ours / scikit-learn CPU time, lower is faster"
    )
    print(note)
    if args.smoke:
        return
    record(
        "rbm_mnist",
        key="rbm25-time",
        model="rbm",
        family="energy",
        dataset="mnist (binarized)",
        dataset_version=cfg.info["dataset_version"],
        split="train: all 60000 (training time only)",
        metric="cpu_time_ratio",
        values=[med["cpu"] / sk["cpu"]],
        seeds=[args.seed],
        higher_is_better=False,
        wall_time_s=med["wall"],
        baselines=[
            {
                "name": "sklearn.neural_network.BernoulliRBM.fit (PCD-1)",
                "value": 1.0,
                "sd": 0.0,
                "wall_time_s": sk["wall"],
                "cpu_time_s": sk["cpu"],
            }
        ],
        config={**cfg.model_dump(mode="json"), "threads": 1},
        notes=note,
        extra={"ours": ours, "sklearn": theirs, "ours_median": med, "sklearn_median": sk},
    )


if __name__ == "__main__":
    main()
