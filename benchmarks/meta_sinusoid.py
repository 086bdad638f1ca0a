"""Sinusoid regression (Finn et al. 2017, sec. 5.1 and Fig. 2): query MSE after 0, 1 and 10 steps.

    flock /tmp/dlzoo-bench.lock nice -n 5 python benchmarks/meta_sinusoid.py            # 3 seeds, records
    python benchmarks/meta_sinusoid.py --smoke                                            # seconds, no record

Tasks y = A sin(x - phi), A ~ U[0.1, 5], phi ~ U[0, pi], x ~ U[-5, 5]; K = 5 and 10 support points.
Methods: MAML (second order), FOMAML, ANIL, Reptile, and the paper's baseline: the same 2 x 40 MLP
"pre-trained" on all tasks jointly (MAML's objective with 0 inner steps: regress the query points of
random tasks), then fine-tuned on the K points by the same SGD steps (alpha = 0.01; Reptile 0.02).
Every method: ``--updates`` meta-updates of ``--meta-batch`` tasks, Adam 1e-3 (Reptile: SGD outer
step 1.0), evaluated on the same 300 fixed test tasks with 100 query points each.

Finn et al. trained 70000 meta-updates of 25 tasks; one shared CPU core affords far fewer (the
record's config says how many), so absolute MSEs are higher than the paper's (MAML K=10 after 10
steps ~0.1 in their Fig. 2 / Table); the comparison with the pre-trained baseline is the point.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import mean_sd, record  # noqa: E402

from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.data.fewshot import EpisodeSampler  # noqa: E402
from dlzoo.families.meta.maml import ANILObjective, FOMAMLObjective, MAMLObjective  # noqa: E402
from dlzoo.families.meta.model import FewShotNet, SineMLP  # noqa: E402
from dlzoo.families.meta.plots import sinusoid_curves  # noqa: E402
from dlzoo.families.meta.reptile import ReptileObjective  # noqa: E402
from dlzoo.tasks.episodic import episode_scores  # noqa: E402

FIGURES = Path(__file__).resolve().parent / "results" / "figures" / "meta_sinusoid"
STEPS = (0, 1, 10)
METHODS = {  # name -> (objective class, task overrides, outer optimizer)
    "maml": (MAMLObjective, {"inner_lr": 0.01, "inner_steps": 1}, "adam"),
    "fomaml": (FOMAMLObjective, {"inner_lr": 0.01, "inner_steps": 1}, "adam"),
    "anil": (ANILObjective, {"inner_lr": 0.01, "inner_steps": 1}, "adam"),
    "reptile": (ReptileObjective, {"inner_lr": 0.02, "inner_steps": 5}, "sgd"),
    "pretrained": (MAMLObjective, {"inner_lr": 0.01, "inner_steps": 0}, "adam"),
}
PAPER = "Finn, Abbeel & Levine 2017 (MAML), sec. 5.1 and Fig. 2: K = 5 and 10, 70000 meta-updates of 25 tasks"


def train_eval(method: str, k: int, seed: int, *, updates: int, meta_batch: int, episodes: int) -> dict:
    cls, task, outer = METHODS[method]
    torch.manual_seed(seed)
    model = FewShotNet(SineMLP(in_features=1, hidden=(40, 40)), out_features=1)
    objective = cls(cls.Config(n_way=1, k_shot=k, n_query=10, eval_inner_steps=10, **task))
    data = load_dataset("sinusoid")
    sampler = EpisodeSampler(data, n_way=1, k_shot=k, n_query=10, seed=seed)
    if outer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:  # Reptile: theta <- theta + 1.0 * mean_i (phi_i - theta), as SGD on the surrogate
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
    t0 = time.perf_counter()
    model.train()
    for batch in sampler.round(0, count=updates, meta_batch_size=meta_batch):
        loss, _ = objective.meta_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - t0
    # fine-tuning uses the same alpha for everyone that adapts with MAML's step (the pre-trained baseline too)
    evaluator = EpisodeSampler(data, n_way=1, k_shot=k, n_query=100, seed=0)
    test = list(evaluator.fixed("test", episodes))
    mse = {}
    for steps in STEPS:
        at = type("At", (), {})()
        at.adapt = lambda m, x, y, s=steps: objective.adapt(m, x, y, steps=s)
        at.predict = objective.predict
        mse[steps] = float(episode_scores(at, model, test).mean())
    return {"mse": mse, "train_s": train_s, "model": model, "objective": objective, "task": test[0]}


def figure(results: dict, k: int) -> Path:
    """Finn et al.'s Fig. 2: MAML and the pre-trained model after 0, 1, 10 steps on one test task."""
    import matplotlib.pyplot as plt

    from dlzoo.plots import _save

    FIGURES.mkdir(parents=True, exist_ok=True)
    paths = []
    for method in ("maml", "pretrained"):
        r = results[method]
        paths.append(sinusoid_curves(r["objective"], r["model"], r["task"], FIGURES / f"k{k}-{method}.png"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    for ax, p, title in zip(axes, paths, ("MAML", "pre-trained, fine-tuned"), strict=True):
        ax.imshow(plt.imread(p))
        ax.set_axis_off()
        ax.set_title(f"{title}, K={k}")
    return _save(fig, FIGURES / f"k{k}.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--updates", type=int, default=2000, help="meta-updates per run")
    ap.add_argument("--meta-batch", type=int, default=10)
    ap.add_argument("--episodes", type=int, default=300, help="fixed test tasks")
    ap.add_argument("--smoke", action="store_true", help="a few updates, one seed, nothing recorded")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.smoke:
        args.seeds, args.updates, args.episodes = 1, 5, 5
    seeds = list(range(args.seeds))
    table = []
    for k in (5, 10):
        per = {m: {s: [] for s in STEPS} for m in METHODS}
        walls = {m: 0.0 for m in METHODS}
        last = {}
        for seed in seeds:
            for method in METHODS:
                t0 = time.perf_counter()
                r = train_eval(
                    method, k, seed, updates=args.updates, meta_batch=args.meta_batch, episodes=args.episodes
                )
                walls[method] += time.perf_counter() - t0
                for s in STEPS:
                    per[method][s].append(r["mse"][s])
                print(f"K={k} {method} seed {seed}: " + ", ".join(f"{s} steps {r['mse'][s]:.3f}" for s in STEPS))
                if seed == 0:
                    last[method] = r
        if not args.smoke:
            print("figure:", figure(last, k))
        for method in METHODS:
            row = {s: mean_sd(per[method][s]) for s in STEPS}
            table.append((k, method, row, walls[method]))
            if args.smoke or method == "pretrained":
                continue
            base = {s: mean_sd(per["pretrained"][s]) for s in STEPS}
            record(
                "meta_sinusoid",
                key=f"k{k}-{method}",
                model=method,
                family="meta",
                dataset="sinusoid",
                dataset_version="finn2017-sinusoid",
                split=f"{args.episodes} fixed test tasks, 100 query points each",
                metric="query MSE after 10 steps",
                values=per[method][10],
                seeds=seeds,
                wall_time_s=walls[method],
                higher_is_better=False,
                reference={"source": PAPER, "note": "MAML K=10, 10 steps: MSE well below the pre-trained baseline"},
                baselines=[
                    {
                        "name": "pre-trained on all tasks, then fine-tuned (measured in the same run)",
                        "metric": "query MSE after 10 steps",
                        "value": base[10][0],
                        "sd": base[10][1],
                        "mse_by_steps": {str(s): base[s][0] for s in STEPS},
                    }
                ],
                config={"k": k, "updates": args.updates, "meta_batch": args.meta_batch, **METHODS[method][1]},
                notes=f"{args.updates} meta-updates of {args.meta_batch} tasks per seed on one CPU core "
                f"(Finn et al.: 70000 of 25); {len(seeds)} seeds",
                extra={"mse_by_steps": {str(s): {"mean": row[s][0], "sd": row[s][1]} for s in STEPS}},
            )
    print("\n| K | method | MSE 0 steps | 1 step | 10 steps | wall s |\n|---|---|---|---|---|---|")
    for k, method, row, wall in table:
        cells = " | ".join(f"{row[s][0]:.3f} ± {row[s][1]:.3f}" for s in STEPS)
        print(f"| {k} | {method} | {cells} | {wall:.0f} |")


if __name__ == "__main__":
    main()
