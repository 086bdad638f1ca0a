"""UCR archive: FCN and ResNet (Wang et al. 2017) through dlzoo's own loop, 5 seeds per dataset.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/ucr.py --seeds 5 --models fcn_tsc
    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/ucr.py --seeds 3 --models resnet_tsc
    ... python benchmarks/ucr.py --models resnet_tsc --first-seed 3 --seeds 2 --append   # two more seeds
    DLZOO_DATA=../shared/data python benchmarks/ucr.py --seeds 1 --models fcn_tsc --datasets Coffee --no-record
    DLZOO_DATA=../shared/data python benchmarks/ucr.py --seeds 1 --datasets all     # the UCR-29 set

Reference: Fawaz, Forestier, Weber, Idoumghar & Muller (2019), "Deep learning for time series
classification: a review", DMKD 33: FCN's and ResNet's accuracy on each set, from their repository's
per-run results on the 2018 archive (``ucr_reference.csv``; ``_ucr.py`` says which file and commit).

Protocol (Fawaz et al. 2019, Section 4.1, with a CPU budget): the archive's train/test split and no
validation set; series z-normalised; Adam lr 1e-3; batch size min(N_train / 10, 16) for FCN and
min(N_train / 10, 64) for ResNet, as in their code (the presets' ``train.batch_fraction: 0.1`` with
``train.batch_size`` 16 / 64: the rule lives in the preset, the size used in config.yaml). Their FCN
trains 2000 epochs, ResNet 1500, with ReduceLROnPlateau(factor 0.5, patience 50) on the training
loss, keeping the minimum-training-loss weights: ``--preset fawaz2019`` runs exactly that (records
``ucr-<model>-<dataset>-fawaz2019``). Here by default: ``--epochs-fcn`` / ``--epochs-resnet`` epochs
(preset ``ucr``: 80 / 50) with a cosine
schedule to zero and the last weights, which is where the training loss is at its minimum too
(both record train/loss; the README shows it is ~0 at the end). The test set is read once per run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, record
from _ucr import REFERENCE_SOURCE, archive_datasets, reference

from dlzoo.config import resolve_config
from dlzoo.runs import RunDir
from dlzoo.training.loop import train_run

REFERENCE = reference()  # dataset -> model -> (mean, sd): _ucr.py says where it comes from
FIRST_FOUR = ("GunPoint", "ItalyPowerDemand", "ECG200", "Coffee")
MODELS = ("fcn_tsc", "resnet_tsc")

UNLOCKED_NOTE = (
    "NOT run under the benchmark lock (its queue was 30+ min long): wall times are inflated by "
    "concurrent jobs and not comparable. "
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="dotted overrides for every run, e.g. train.lr=0.002")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument(
        "--datasets", nargs="+", default=list(FIRST_FOUR), help="names, or 'all': every UCR set under DLZOO_DATA"
    )
    p.add_argument("--seeds", type=int, default=5, help="model seeds first-seed..first-seed+seeds-1")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument(
        "--append",
        action="store_true",
        help="add these seeds to the existing record of the same model and dataset (other seeds)",
    )
    p.add_argument(
        "--preset", default="ucr", choices=["ucr", "fawaz2019"], help="ucr: the CPU budget; fawaz2019: the paper's"
    )
    p.add_argument("--epochs-fcn", type=int, default=None, help="default: the ucr preset's")
    p.add_argument("--epochs-resnet", type=int, default=None, help="default: the ucr preset's")
    p.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared: 1)")
    p.add_argument("--no-record", action="store_true")
    p.add_argument(
        "--unlocked",
        dest="locked",
        action="store_false",
        help="say in the record that the run was not under /tmp/dlzoo-bench.lock",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    epochs = {"fcn_tsc": args.epochs_fcn, "resnet_tsc": args.epochs_resnet}
    datasets = archive_datasets() if args.datasets == ["all"] else args.datasets
    for model in args.models:
        for dataset in datasets:  # batch min(N_train / 10, 16 | 64): the preset's train.batch_fraction
            overrides = [f"data.dataset={dataset}", "train.progress=false"]
            if epochs[model]:
                overrides.append(f"train.epochs={epochs[model]}")
            run_one(model, dataset, [*overrides, *args.overrides], args)


def run_one(model: str, dataset: str, overrides: list[str], args: argparse.Namespace) -> None:
    test, loop_s, final_loss = [], [], []
    with tempfile.TemporaryDirectory(prefix="dlzoo-ucr-") as tmp:
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        for seed in seeds:
            cfg = resolve_config(
                model, preset=args.preset, overrides=[*overrides, f"train.seed={seed}", f"train.threads={args.threads}"]
            )
            run = RunDir.create(tmp, model, f"{dataset}-seed{seed}")
            t0 = time.perf_counter()
            result = train_run(cfg, run)
            total = time.perf_counter() - t0
            losses = [r["train/loss"] for r in run.read_metrics() if "train/loss" in r]
            test.append(result["test/accuracy"])
            loop_s.append(result["wall_time_s"])
            final_loss.append(losses[-1] if losses else float("nan"))
            print(
                f"{model} {dataset} seed {seed}: test/accuracy {test[-1]:.4f}  final train/loss "
                f"{final_loss[-1]:.4f}  loop {loop_s[-1]:.0f} s  total {total:.0f} s",
                flush=True,
            )
    ref, ref_sd = REFERENCE.get(dataset, {}).get(model, (None, None))
    mean = statistics.fmean(test)
    sd = statistics.stdev(test) if len(test) > 1 else 0.0
    print(
        f"== {model} {dataset}: {mean:.4f} ± {sd:.4f} (Fawaz et al. 2019: {ref}); "
        f"{statistics.fmean(loop_s):.0f} s/seed",
        flush=True,
    )
    if args.no_record:
        return
    key = f"{model}-{dataset}" + ("" if args.preset == "ucr" else f"-{args.preset}")
    existing = RESULTS / f"ucr-{key}.json"
    if args.append and existing.is_file():  # earlier seeds of the same protocol: merge
        old = json.loads(existing.read_text())
        if set(old["seeds"]) & set(seeds):
            raise SystemExit(f"{existing} already has seeds {old['seeds']}; --append needs new ones")
        test, seeds = old["values"] + test, old["seeds"] + seeds
        loop_s = [old["wall_time_s"]] * len(old["seeds"]) + loop_s
        final_loss = old.get("final_train_loss", []) + final_loss
    record(
        "ucr",
        key=key,
        model=model,
        family="cnn",
        dataset=f"ucr/{dataset}",
        dataset_version=cfg.info.get("dataset_version"),
        split="test: the archive's published test split; no val (train loss only)",
        metric="test/accuracy",
        values=test,
        seeds=seeds,
        wall_time_s=statistics.fmean(loop_s),
        reference={
            "value": ref,
            "sd": ref_sd,
            "source": f"{REFERENCE_SOURCE}, {'FCN' if model == 'fcn_tsc' else 'ResNet'}",
        }
        if ref is not None
        else None,
        config=cfg.model_dump(mode="json"),
        notes=("" if args.locked else UNLOCKED_NOTE)
        + f"{args.threads} torch thread(s) on a {os.cpu_count()}-core machine shared with other jobs; "
        f"preset {args.preset}: {cfg.train.epochs} epochs, batch {cfg.train.batch_size}, Adam lr {cfg.train.lr}, "
        + (
            "cosine schedule, last weights "
            "(Fawaz et al.: 2000/1500 epochs, ReduceLROnPlateau, min-train-loss weights). "
            if args.preset == "ucr"
            else "ReduceLROnPlateau on the training loss, min-train-loss weights (Fawaz et al.'s protocol). "
        )
        + "wall_time_s = the loop's training time per seed.",
        extra={"final_train_loss": final_loss, "total_wall_s_all_seeds": sum(loop_s), "overrides": overrides},
    )


if __name__ == "__main__":
    main()
