"""Omniglot few-shot classification from the two small background sets only.

    DLZOO_DATA=../shared/data python benchmarks/meta_omniglot.py --methods protonet --minutes 4       # records
    # the Lake recipe (protonet --preset omniglot_lake): 1-shot, up-to-60-way within-alphabet episodes
    DLZOO_DATA=../shared/data python benchmarks/meta_omniglot.py --methods protonet --tag _lake --minutes 25 \
        --bf16 --ways 60 --shots 1 --within-alphabet --val-alphabets 0 --halve-every 1000
    python benchmarks/meta_omniglot.py --smoke                                  # generated data, no record

Training: ``images_background_small1.zip`` + ``images_background_small2.zip`` (8 alphabets), two
alphabets held out for test and one for validation (``--val-alphabets 0``: it trains too;
``dlzoo.data.fewshot.omniglot``, split_seed 0), train characters x4 rotations. Every method trains for
``--minutes`` of this process's CPU time (the machine is shared: wall time varies with the load; also
stopped at ``--deadline``), Conv-4 with 64 filters, then is scored on

- fixed test episodes (held-out alphabets; 600 by default) for 5-way and 20-way, 1-shot and 5-shot,
  15 queries per class: mean accuracy and the 95% CI half-width 1.96 sd / sqrt(episodes);
- Lake et al.'s 20 one-shot 20-way runs (``all_runs.zip``, images_evaluation alphabets, within-alphabet
  discrimination): accuracy over the 400 test images. Published on those runs (trained on the FULL
  background set, 30 alphabets): Koch et al. 2015 Siamese net 92.0%, Lake et al. 2015 BPL 96.7%,
  people 95.5% (Lake et al. 2015, Science, Fig. 3 / Table S2).

Metric methods (ProtoNets, Matching Networks), Baseline and Baseline++ are trained once (20-way
episodes, or pooled batches) and evaluated at every (ways, shots); MAML-type methods have a head of
n_way outputs, so they are trained 5-way and evaluated 5-way only (their 20-way cells stay empty).
``baseline_tsa`` / ``baseline_pp_tsa`` fit residual adapters per task on the Baseline / Baseline++
backbone trained just before in the same call (40 forward-backward passes per episode: 5-way
1-shot and Lake's runs only).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.data.affine import AffineJitter  # noqa: E402
from dlzoo.data.fewshot import EpisodeSampler, omniglot_one_shot_runs  # noqa: E402
from dlzoo.registry import create_model, get_spec  # noqa: E402
from dlzoo.tasks.episodic import ci95, episode_scores  # noqa: E402

SETTINGS = [(5, 1), (5, 5), (20, 1), (20, 5)]
LAKE = {"Koch et al. 2015 Siamese network": 92.0, "Lake et al. 2015 BPL": 96.7, "people": 95.5}
MAML_TASK = {"n_way": 5, "k_shot": 1, "n_query": 5, "meta_batch_size": 4, "inner_lr": 0.4, "eval_inner_steps": 3}
POOLED = {"n_way": 20, "k_shot": 5, "n_query": 5, "meta_batch_size": 2, "finetune_steps": 100}
#: method -> (registered model, training task: section, model arguments, outer optimizer and its lr)
METHODS = {
    "protonet": ("protonet", {"n_way": 20, "k_shot": 5, "n_query": 5, "meta_batch_size": 1}, {}, ("adam", 1e-3)),
    "matchingnet": ("matchingnet", {"n_way": 20, "k_shot": 5, "n_query": 5, "meta_batch_size": 1}, {}, ("adam", 1e-3)),
    "baseline": ("baseline", POOLED, {}, ("adam", 1e-3)),
    "baseline_pp": ("baseline_pp", POOLED, {}, ("adam", 1e-3)),
    # TSA (Li et al. 2022): Baseline++'s backbone, residual adapters + alignment fitted per task (40 steps)
    "baseline_pp_tsa": ("baseline_pp", {**POOLED, "finetune_steps": 40, "adapter": "residual"}, {}, ("adam", 1e-3)),
    "baseline_tsa": ("baseline", {**POOLED, "finetune_steps": 40, "adapter": "residual"}, {}, ("adam", 1e-3)),
    "fomaml": ("fomaml", MAML_TASK, {"out_features": 5}, ("adam", 1e-3)),
    "maml": ("maml", MAML_TASK, {"out_features": 5}, ("adam", 1e-3)),
    "anil": ("anil", MAML_TASK, {"out_features": 5}, ("adam", 1e-3)),
    # Reptile (Nichol et al. 2018, Omniglot): 5 inner SGD steps, the outer step theta += eps (phi - theta)
    "reptile": (
        "reptile",
        {
            "n_way": 5,
            "k_shot": 1,
            "n_query": 5,
            "meta_batch_size": 5,
            "inner_lr": 0.1,
            "inner_steps": 5,
            "eval_inner_steps": 10,
        },
        {"out_features": 5},
        ("sgd", 1.0),
    ),
}


#: adapters fitted per task on the backbone of another method (when it is trained in the same call)
REUSE = {"baseline_pp_tsa": "baseline_pp", "baseline_tsa": "baseline"}
#: 40 forward-backward passes of the support set per episode: 1-shot 5-way cells only (and Lake's runs)
ADAPTER_SETTINGS = ("5w1s",)


def train(
    method: str, data, *, seconds: float, seed: int, recipe: dict, deadline: float = float("inf"), probe_every: int = 0
):
    """Adam on the method's episodes for ``seconds``; ``recipe`` overrides the training task (ways, shots,
    within-alphabet episodes), ``bf16`` autocasts the meta-loss, ``halve_every`` halves the LR every that
    many meta-updates (Snell et al.: every 2000 episodes), ``cosine`` anneals it to 0 over the budget
    (CPU time, ``deadline`` or ``updates``, whichever ends first); ``augment``: affine distortions."""
    registered, task, model_args, (optimizer, lr) = METHODS[method]
    task = {**task, **{k: v for k, v in recipe.items() if k in ("n_way", "k_shot", "n_query")}}
    spec = get_spec(registered)
    objective = spec.objective(spec.objective.Config(**task))
    torch.manual_seed(seed)
    args = {"input_shape": tuple(data.info.input_shape), "hidden": 64, **model_args}
    if "num_train_classes" in spec.params():
        args["num_train_classes"] = data.pools["train"].num_classes
    model = create_model(registered, **args)
    opt = (
        torch.optim.Adam(model.parameters(), lr=lr) if optimizer == "adam" else torch.optim.SGD(model.parameters(), lr)
    )
    halve, max_updates = recipe.get("halve_every") or 10**9, recipe.get("updates") or 10**9
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=halve, gamma=0.5)
    sampler = EpisodeSampler(
        data,
        n_way=task["n_way"],
        k_shot=task["k_shot"],
        n_query=task["n_query"],
        seed=seed,
        within_group=recipe.get("within_alphabet", False),
        augment=AffineJitter() if recipe.get("augment") else None,
    )
    # the budget is this process's CPU time (the machine is shared: wall time would vary with the load);
    # probes of Lake's runs (every --probe-every updates) are not counted in it
    c0, t0, updates, r, probe_s, curve = time.process_time(), time.time(), 0, 0, 0.0, []

    def progress() -> float:  # the fraction of the budget used: CPU time, the deadline or the updates
        cpu = (time.process_time() - c0 - probe_s) / seconds
        return max(cpu, (time.time() - t0) / max(deadline - t0, 1e-9), updates / max_updates)

    model.train()
    while progress() < 1:
        for batch in sampler.round(r, count=50, meta_batch_size=task["meta_batch_size"]):
            if recipe.get("cosine"):  # cosine from lr to 0 over the budget (whichever ends first)
                for group in opt.param_groups:
                    group["lr"] = 0.5 * lr * (1 + math.cos(math.pi * min(progress(), 1.0)))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=recipe.get("bf16", False)):
                loss, _ = objective.meta_loss(model, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if not recipe.get("cosine"):
                sched.step()
            updates += 1
            if probe_every and updates % probe_every == 0:
                p0 = time.process_time()
                curve.append((updates, round(lake_runs(objective, model), 2)))
                print(f"{method}: {updates} updates, Lake's runs {curve[-1][1]:.1f}%", flush=True)
                model.train()
                probe_s += time.process_time() - p0
            if progress() >= 1:
                break
        r += 1
    return objective, model, updates, time.process_time() - c0 - probe_s, curve


def evaluate(
    objective, model, data, *, episodes: int, ways: list[int], settings: list[str]
) -> dict[str, tuple[float, float]]:
    out = {}
    for n, k in SETTINGS:
        if n not in ways or f"{n}w{k}s" not in settings:
            continue
        sampler = EpisodeSampler(data, n_way=n, k_shot=k, n_query=15, seed=0)
        acc = episode_scores(objective, model, sampler.fixed("test", episodes))
        out[f"{n}w{k}s"] = (100 * float(acc.mean()), 100 * ci95(acc))
    return out


def lake_runs(objective, model, copies: int = 0) -> float:
    """Accuracy (%) over the 400 test images of Lake et al.'s 20 runs (``copies``: distorted support copies)."""
    runs = omniglot_one_shot_runs()
    if copies:
        objective = type(objective)(objective.cfg.model_copy(update={"support_copies": copies}))
    acc = episode_scores(objective, model, runs)  # per run: 20 queries
    return 100 * float(acc.mean())


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="protonet", help="comma-separated: " + ", ".join(METHODS))
    ap.add_argument("--minutes", type=float, default=4.0, help="training CPU time per method")
    ap.add_argument("--episodes", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--settings", default="5w1s,5w5s,20w1s,20w5s", help="evaluation (ways, shots) cells")
    ap.add_argument("--ways", type=int, help="training ways (default: the method's)")
    ap.add_argument("--shots", type=int, help="training shots")
    ap.add_argument("--queries", type=int, help="training queries per class")
    ap.add_argument("--within-alphabet", action="store_true", help="training episodes from one alphabet+rotation")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast of the training forward/backward")
    ap.add_argument("--halve-every", type=int, default=0, help="halve the LR every this many meta-updates")
    ap.add_argument("--updates", type=int, default=0, help="also stop after this many meta-updates")
    ap.add_argument("--cosine", action="store_true", help="cosine LR from lr to 0 over the budget (not halving)")
    ap.add_argument("--probe-every", type=int, default=0, help="score Lake's runs every this many updates")
    ap.add_argument("--augment", action="store_true", help="affine distortions of training images (Koch et al.)")
    ap.add_argument(
        "--support-copies", type=int, default=0, help="also score Lake's runs with distorted support copies"
    )
    ap.add_argument("--val-alphabets", type=int, default=1, help="0: the val alphabet trains too")
    ap.add_argument("--deadline", help="HH:MM (UTC, today): training also stops then (CPU-minutes first)")
    ap.add_argument("--save", help="a folder: also write the trained model's state_dict there (<method><tag>.pt)")
    ap.add_argument("--tag", default="", help="suffix of the record keys (a recipe: protonet_lake, ...)")
    ap.add_argument("--smoke", action="store_true", help="generated strokes, seconds, nothing recorded")
    return ap.parse_args()


def main() -> None:
    args = parse()
    torch.set_num_threads(1)
    recipe = {
        k: v
        for k, v in {
            "n_way": args.ways,
            "k_shot": args.shots,
            "n_query": args.queries,
            "within_alphabet": args.within_alphabet,
            "bf16": args.bf16,
            "halve_every": args.halve_every,
            "updates": args.updates,
            "cosine": args.cosine,
            "augment": args.augment,
        }.items()
        if v
    }
    if args.smoke:
        data = load_dataset("omniglot_synthetic", num_classes=120, per_class=20)
        args.minutes, args.episodes = 0.05, 5
        recipe.pop("within_alphabet", None)
    else:
        data = load_dataset("omniglot", val_alphabets=args.val_alphabets)
    print(data.info.split_note)
    deadline = float("inf")
    if args.deadline:
        hh, mm = map(int, args.deadline.split(":"))
        now = datetime.datetime.now(datetime.timezone.utc)
        deadline = now.replace(hour=hh, minute=mm, second=0, microsecond=0).timestamp()
    trained = {}
    for method in args.methods.split(","):
        if time.time() >= deadline:
            print(f"{method}: skipped, the --deadline has passed", flush=True)
            continue
        t0 = time.perf_counter()
        settings = args.settings.split(",")
        if method in REUSE and REUSE[method] in trained:  # adapters on the backbone trained just before
            _, model, updates, train_s, curve = trained[REUSE[method]]
            spec = get_spec(METHODS[method][0])
            objective = spec.objective(spec.objective.Config(**METHODS[method][1]))
            settings = [k for k in settings if k in ADAPTER_SETTINGS]
        else:
            trained[method] = objective, model, updates, train_s, curve = train(
                method,
                data,
                seconds=60 * args.minutes,
                seed=args.seed,
                recipe=recipe,
                deadline=deadline,
                probe_every=args.probe_every,
            )
        if args.save:
            Path(args.save).mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), Path(args.save) / f"{method}{args.tag}.pt")
        ways = [5] if "out_features" in METHODS[method][2] else [5, 20]
        scores = evaluate(objective, model, data, episodes=args.episodes, ways=ways, settings=settings)
        lake = None if args.smoke or 20 not in ways else lake_runs(objective, model)
        copies = args.support_copies if lake is not None and hasattr(objective.cfg, "support_copies") else 0
        lake_copies = lake_runs(objective, model, copies) if copies else None
        wall = time.perf_counter() - t0
        name = method + args.tag
        print(
            f"{name}: {updates} updates in {train_s:.0f} CPU-s (wall {wall:.0f} s with evaluation); "
            + ", ".join(f"{k} {v[0]:.1f} ± {v[1]:.1f}" for k, v in scores.items()),
            flush=True,
        )
        if lake is not None:
            print(f"{name}: Lake et al. 20 one-shot 20-way runs: {lake:.1f}%", flush=True)
        if lake_copies is not None:
            print(f"{name}: the same with {copies} distorted copies of each support image: {lake_copies:.1f}%")
        if args.smoke:
            continue
        train_task = {**METHODS[method][1], **recipe}
        common = {
            "model": METHODS[method][0],
            "family": "meta",
            "dataset": "omniglot",
            "dataset_version": data.info.version,
            "seeds": [args.seed],
            "wall_time_s": wall,
            "precision": "bf16-mixed" if args.bf16 else "32-true",
            "config": {
                "train_task": train_task,
                "train_minutes": args.minutes,
                "meta_updates": updates,
                **({"lake20_by_updates": curve} if curve else {}),
            },
        }
        note = (
            f"trained {train_s:.0f} CPU-seconds ({updates} meta-updates) on one shared CPU core, one seed; "
            f"{data.info.split_note}"
        )
        for key, (acc, ci) in scores.items():
            record(
                "meta_omniglot",
                key=f"{name}-{key}",
                metric=f"{key} accuracy (%), 95% CI half-width {ci:.2f}",
                values=[acc],
                split=f"{args.episodes} fixed episodes of the 2 held-out test alphabets",
                notes=note,
                extra={"ci95": ci},
                **common,
            )
        lakes = {"lake20": (lake, "")} if lake is not None else {}
        if lake_copies is not None:  # prototypes from each support image and its distorted copies
            lakes[f"lake20_copies{copies}"] = (lake_copies, f", prototypes over {copies} distorted support copies")
        for suffix, (value, how) in lakes.items():
            record(
                "meta_omniglot",
                key=f"{name}-{suffix}",
                metric=f"accuracy (%) on Lake et al.'s 20 one-shot 20-way runs{how}",
                values=[value],
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
