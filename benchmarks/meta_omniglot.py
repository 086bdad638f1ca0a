"""Omniglot few-shot classification from the two small background sets only.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock nice -n 5 python benchmarks/meta_omniglot.py \
        --methods protonet --minutes 4                                          # records
    python benchmarks/meta_omniglot.py --smoke                                  # generated data, no record

Training: ``images_background_small1.zip`` + ``images_background_small2.zip`` (10 alphabets), one
alphabet held out for validation and two for test (``dlzoo.data.fewshot.omniglot``, split_seed 0),
train characters x4 rotations. Every method trains for ``--minutes`` of one CPU core (Conv-4, 64
filters), then is scored on

- 600 fixed test episodes (held-out alphabets) for 5-way and 20-way, 1-shot and 5-shot, 15 queries
  per class: mean accuracy and the 95% CI half-width 1.96 sd / sqrt(600);
- Lake et al.'s 20 one-shot 20-way runs (``all_runs.zip``, images_evaluation alphabets, within-alphabet
  discrimination): accuracy over the 400 test images. Published on those runs (trained on the FULL
  background set, 30 alphabets): Koch et al. 2015 Siamese net 92.0%, Lake et al. 2015 BPL 96.7%,
  people 95.5% (Lake et al. 2015, Science, Fig. 3 / Table S2).

Metric methods (ProtoNets, Matching Networks) and Baseline++ are trained once (20-way episodes, or
pooled batches) and evaluated at every (ways, shots); MAML-type methods have a head of n_way outputs,
so they are trained 5-way and evaluated 5-way only (and their 20-way cells stay empty).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.data.fewshot import EpisodeSampler, omniglot_one_shot_runs  # noqa: E402
from dlzoo.registry import create_model, get_spec  # noqa: E402
from dlzoo.tasks.episodic import ci95, episode_scores  # noqa: E402

SETTINGS = [(5, 1), (5, 5), (20, 1), (20, 5)]
LAKE = {"Koch et al. 2015 Siamese network": 92.0, "Lake et al. 2015 BPL": 96.7, "people": 95.5}
#: method -> (training task: section, model arguments, Adam lr)
METHODS = {
    "protonet": ({"n_way": 20, "k_shot": 5, "n_query": 5, "meta_batch_size": 1}, {}, 1e-3),
    "matchingnet": ({"n_way": 20, "k_shot": 5, "n_query": 5, "meta_batch_size": 1}, {}, 1e-3),
    "baseline_pp": ({"n_way": 20, "k_shot": 5, "n_query": 5, "meta_batch_size": 2, "finetune_steps": 100}, {}, 1e-3),
    "fomaml": (
        {"n_way": 5, "k_shot": 1, "n_query": 5, "meta_batch_size": 4, "inner_lr": 0.4, "eval_inner_steps": 3},
        {"out_features": 5},
        1e-3,
    ),
    "maml": (
        {"n_way": 5, "k_shot": 1, "n_query": 5, "meta_batch_size": 4, "inner_lr": 0.4, "eval_inner_steps": 3},
        {"out_features": 5},
        1e-3,
    ),
}


def train(method: str, data, *, seconds: float, seed: int):
    task, model_args, lr = METHODS[method]
    spec = get_spec(method)
    objective = spec.objective(spec.objective.Config(**task))
    torch.manual_seed(seed)
    args = {"input_shape": tuple(data.info.input_shape), "hidden": 64, **model_args}
    if "num_train_classes" in spec.params():
        args["num_train_classes"] = data.pools["train"].num_classes
    model = create_model(method, **args)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sampler = EpisodeSampler(data, n_way=task["n_way"], k_shot=task["k_shot"], n_query=task["n_query"], seed=seed)
    t0, updates, r = time.perf_counter(), 0, 0
    model.train()
    while time.perf_counter() - t0 < seconds:
        for batch in sampler.round(r, count=50, meta_batch_size=task["meta_batch_size"]):
            loss, _ = objective.meta_loss(model, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            updates += 1
        r += 1
    return objective, model, updates, time.perf_counter() - t0


def evaluate(objective, model, data, *, episodes: int, ways: list[int]) -> dict[str, tuple[float, float]]:
    out = {}
    for n, k in SETTINGS:
        if n not in ways:
            continue
        sampler = EpisodeSampler(data, n_way=n, k_shot=k, n_query=15, seed=0)
        acc = episode_scores(objective, model, sampler.fixed("test", episodes))
        out[f"{n}w{k}s"] = (100 * float(acc.mean()), 100 * ci95(acc))
    return out


def lake_runs(objective, model) -> float:
    """Accuracy (%) over the 400 test images of Lake et al.'s 20 runs."""
    runs = omniglot_one_shot_runs()
    acc = episode_scores(objective, model, runs)  # per run: 20 queries
    return 100 * float(acc.mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="protonet", help="comma-separated: " + ", ".join(METHODS))
    ap.add_argument("--minutes", type=float, default=4.0, help="training wall time per method")
    ap.add_argument("--episodes", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true", help="generated strokes, seconds, nothing recorded")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.smoke:
        data = load_dataset("omniglot_synthetic", num_classes=120, per_class=20)
        args.minutes, args.episodes = 0.05, 5
    else:
        data = load_dataset("omniglot")
    print(data.info.split_note)
    for method in args.methods.split(","):
        t0 = time.perf_counter()
        objective, model, updates, train_s = train(method, data, seconds=60 * args.minutes, seed=args.seed)
        ways = [5] if "out_features" in METHODS[method][1] else [5, 20]
        scores = evaluate(objective, model, data, episodes=args.episodes, ways=ways)
        lake = None if args.smoke or 20 not in ways else lake_runs(objective, model)
        wall = time.perf_counter() - t0
        print(
            f"{method}: {updates} updates in {train_s:.0f} s; "
            + ", ".join(f"{k} {v[0]:.1f} ± {v[1]:.1f}" for k, v in scores.items())
        )
        if lake is not None:
            print(f"{method}: Lake et al. 20 one-shot 20-way runs: {lake:.1f}%")
        if args.smoke:
            continue
        common = {
            "model": method,
            "family": "meta",
            "dataset": "omniglot",
            "dataset_version": data.info.version,
            "seeds": [args.seed],
            "wall_time_s": wall,
            "config": {"train_task": METHODS[method][0], "train_minutes": args.minutes, "meta_updates": updates},
        }
        note = (
            f"trained {train_s:.0f} s ({updates} meta-updates) on one shared CPU core, one seed; {data.info.split_note}"
        )
        for key, (acc, ci) in scores.items():
            record(
                "meta_omniglot",
                key=f"{method}-{key}",
                metric=f"{key} accuracy (%), 95% CI half-width {ci:.2f}",
                values=[acc],
                split=f"{args.episodes} fixed episodes of the 2 held-out test alphabets",
                notes=note,
                extra={"ci95": ci},
                **common,
            )
        if lake is not None:
            record(
                "meta_omniglot",
                key=f"{method}-lake20",
                metric="accuracy (%) on Lake et al.'s 20 one-shot 20-way runs",
                values=[lake],
                split="all_runs.zip: 20 runs x 20 test images (images_evaluation alphabets)",
                reference={
                    "source": "Koch et al. 2015 Siamese network on Lake et al.'s 20 runs (Lake, Salakhutdinov & "
                    "Tenenbaum 2015, Science 350(6266)), trained on the full background set (30 alphabets)",
                    "value": 92.0,
                    **LAKE,
                },
                notes=note + "; trained on the 2 small background sets only (goal: 92%)",
                **common,
            )


if __name__ == "__main__":
    if not os.environ.get("DLZOO_DATA") and "--smoke" not in sys.argv:
        sys.exit("set DLZOO_DATA to a folder with omniglot/*.zip (e.g. DLZOO_DATA=../shared/data)")
    main()
