"""Tabular benchmark: dlzoo's ``mlp_classifier`` against scikit-learn on digits, breast_cancer and wine.

    flock /tmp/dlzoo-bench.lock python benchmarks/tabular.py            # 5 seeds, test split, records results
    python benchmarks/tabular.py --cv --seeds 2 train.epochs=50         # tuning: 5-fold CV on the training split

Every model sees the same stratified 80/20 split (``train_test_split(x, y, test_size=0.2, stratify=y,
random_state=0)``, the split of dlzoo's tabular loaders). dlzoo's model is trained through its own
loop (``resolve_config`` + ``train_run``, run directories in a temporary folder); the baselines are
scikit-learn's MLPClassifier (raw features, and after a StandardScaler in a Pipeline) and
HistGradientBoostingClassifier with their default hyperparameters. Model seeds 0..seeds-1.

``--cv`` is the tuning mode: it never touches the test split. It scores every model by stratified
5-fold cross-validation on the 80% training part (each fold is registered as a dataset
``<name>_cv`` for the duration of this process, so dlzoo's model still goes through its own loop),
prints the table and records nothing. Preset choices were made with it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any
from collections.abc import Callable

import numpy as np
import sklearn
import sklearn.datasets
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import mean_sd, record  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.data import DataInfo, Split, TensorData, register_dataset  # noqa: E402
from dlzoo.data.tabular import SKLEARN_VERSION  # noqa: E402
from dlzoo.runs import RunDir  # noqa: E402
from dlzoo.training.loop import train_run  # noqa: E402

DATASETS = ("digits", "breast_cancer", "wine")
SPLIT = "test: stratified train_test_split test_size=0.2, split_seed=0 (dlzoo's loader split)"
N_FOLDS = 5
# measured on this machine before the dlzoo runs (split seed 0): the numbers to match or beat
AUTHOR = {"digits": (0.977, 0.961), "breast_cancer": (0.953, 0.939), "wine": (1.000, 0.972)}

BASELINES: dict[str, Callable[[int], Any]] = {
    "sklearn MLPClassifier": lambda seed: MLPClassifier(random_state=seed),
    "sklearn StandardScaler+MLPClassifier": lambda seed: make_pipeline(
        StandardScaler(), MLPClassifier(random_state=seed)
    ),
    "sklearn HistGradientBoostingClassifier": lambda seed: HistGradientBoostingClassifier(random_state=seed),
}


def raw(name: str) -> tuple[np.ndarray, np.ndarray]:
    bunch = getattr(sklearn.datasets, f"load_{name}")()
    return np.asarray(bunch.data, dtype=np.float32), np.asarray(bunch.target, dtype=np.int64)


def train_part(name: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = raw(name)
    x_tr, _, y_tr, _ = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    return x_tr, y_tr


def folds(name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified 5-fold (train index, val index) pairs of the 80% training part."""
    x_tr, y_tr = train_part(name)
    return list(StratifiedKFold(N_FOLDS, shuffle=True, random_state=0).split(x_tr, y_tr))


def register_cv_dataset(name: str) -> None:
    """``<name>_cv`` with parameter ``fold``: train = the other folds, test = fold ``fold`` (train part only)."""

    def loader(*, fold: int = 0) -> TensorData:
        x_tr, y_tr = train_part(name)
        fit, val = folds(name)[fold]
        tr = Split(torch.from_numpy(x_tr[fit]), torch.from_numpy(y_tr[fit]))
        te = Split(torch.from_numpy(x_tr[val]), torch.from_numpy(y_tr[val]))
        classes = tuple(str(c) for c in sorted(set(y_tr.tolist())))
        info = DataInfo(
            name=f"{name}_cv",
            version=SKLEARN_VERSION,
            task="classify",
            input_shape=(x_tr.shape[1],),
            num_classes=len(classes),
            class_names=classes,
            splits={"train": len(tr), "test": len(te)},
            split_note=f"fold {fold} of stratified {N_FOLDS}-fold CV on the split_seed=0 training part",
        )
        return TensorData(train=tr, val=None, test=te, info=info)

    register_dataset(f"{name}_cv", modality="tabular")(loader)


def run_dlzoo(
    name: str, seed: int, *, preset: str, overrides: list[str], root: Path, fold: int | None = None
) -> tuple[float, float, float]:
    """(accuracy, loop training seconds, total train_run seconds) of one dlzoo run."""
    data = name if fold is None else f"{name}_cv"
    extra = [] if fold is None else [f"data.fold={fold}"]
    cfg = resolve_config(
        "mlp_classifier",
        preset=preset,
        data=data,
        overrides=[*overrides, *extra, f"train.seed={seed}", "train.progress=false"],
    )
    run = RunDir.create(root, "mlp_classifier", f"{data}-{fold}-{seed}")
    t0 = time.perf_counter()
    result = train_run(cfg, run)
    return result["test/accuracy"], result["wall_time_s"], time.perf_counter() - t0


def run_sklearn(
    make: Callable[[int], Any], seed: int, x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, y_te: np.ndarray
) -> tuple[float, float]:
    model = make(seed)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # default max_iter=200, as users run it
        model.fit(x_tr, y_tr)
    return float(model.score(x_te, y_te)), time.perf_counter() - t0


def evaluate(
    name: str, seeds: list[int], *, preset: str, overrides: list[str], cv: bool, root: Path, baselines: bool = True
) -> dict[str, dict[str, list[float]]]:
    """{model: {"acc": per seed, "fit_s": per seed, "total_s": per seed}}; CV scores are fold means."""
    out: dict[str, dict[str, list[float]]] = {
        m: {"acc": [], "fit_s": [], "total_s": []} for m in ["dlzoo mlp_classifier", *(BASELINES if baselines else [])]
    }
    x, y = raw(name)
    if cv:
        x_tr, y_tr = train_part(name)
        splits = [(x_tr[a], y_tr[a], x_tr[b], y_tr[b]) for a, b in folds(name)]
    else:
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
        splits = [(x_tr, y_tr, x_te, y_te)]
    for seed in seeds:
        ours = [
            run_dlzoo(name, seed, preset=preset, overrides=overrides, root=root, fold=k if cv else None)
            for k in range(len(splits))
        ]
        for key, i in (("acc", 0), ("fit_s", 1), ("total_s", 2)):
            out["dlzoo mlp_classifier"][key].append(statistics.fmean(r[i] for r in ours))
        for bname, make in BASELINES.items() if baselines else []:
            res = [run_sklearn(make, seed, *s) for s in splits]
            out[bname]["acc"].append(statistics.fmean(r[0] for r in res))
            out[bname]["fit_s"].append(statistics.fmean(r[1] for r in res))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="dotted overrides for dlzoo's model, e.g. model.dropout=0.2")
    p.add_argument("--preset", default="default")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--seeds", type=int, default=5, help="model seeds 0..seeds-1")
    p.add_argument("--cv", action="store_true", help="5-fold CV on the training part (tuning); records nothing")
    p.add_argument("--no-record", action="store_true", help="print only")
    p.add_argument("--no-baselines", action="store_true", help="dlzoo only (tuning sweeps); implies --no-record")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for dlzoo (1: these matmuls are too "
        "small to gain from more, and extra threads spin on a shared machine)",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    seeds = list(range(args.seeds))
    if args.cv:
        for name in args.datasets:
            register_cv_dataset(name)
    where = "5-fold CV on the training part" if args.cv else "test split"
    print(f"preset={args.preset} overrides={args.overrides} seeds={seeds} ({where})")
    with tempfile.TemporaryDirectory(prefix="dlzoo-tabular-") as tmp:
        for name in args.datasets:
            res = evaluate(
                name,
                seeds,
                preset=args.preset,
                overrides=[*args.overrides, f"train.threads={args.threads}"],
                cv=args.cv,
                root=Path(tmp),
                baselines=not args.no_baselines,
            )
            for model, r in res.items():
                m, sd = mean_sd(r["acc"])
                print(
                    f"{name:14s} {model:40s} acc {m:.4f} ± {sd:.4f}  fit {statistics.fmean(r['fit_s']):6.2f} s  "
                    f"{[round(a, 4) for a in r['acc']]}",
                    flush=True,
                )
            if args.cv or args.no_record or args.no_baselines:
                continue
            ours = res["dlzoo mlp_classifier"]
            baselines = []
            for bname in BASELINES:
                bm, bsd = mean_sd(res[bname]["acc"])
                baselines.append(
                    {
                        "name": bname,
                        "value": bm,
                        "sd": bsd,
                        "values": res[bname]["acc"],
                        "wall_time_s": statistics.fmean(res[bname]["fit_s"]),
                        "note": "scikit-learn defaults; fit time = .fit() on the same 2 cores",
                    }
                )
            cfg = resolve_config(
                "mlp_classifier",
                preset=args.preset,
                data=name,
                overrides=[*args.overrides, f"train.threads={args.threads}"],
            )
            record(
                "tabular",
                key=name,
                model="mlp_classifier",
                family="mlp",
                dataset=name,
                dataset_version=SKLEARN_VERSION,
                split=SPLIT,
                metric="test/accuracy",
                values=ours["acc"],
                seeds=seeds,
                wall_time_s=statistics.fmean(ours["fit_s"]),
                reference={
                    "value": max(AUTHOR[name]),
                    "source": "best of scikit-learn StandardScaler+MLPClassifier and HistGradientBoostingClassifier "
                    "(defaults), split seed 0, measured on this machine before the dlzoo runs",
                },
                baselines=baselines,
                config=cfg.model_dump(mode="json"),
                notes=(
                    "dlzoo wall_time_s = the loop's training time (eval.json wall_time_s: rounds incl. per-epoch "
                    "checkpoints, without data loading, final evaluation and plots); total_wall_s = whole "
                    "train_run call. Preset chosen by 5-fold CV on the training part (benchmarks/tabular.py --cv)."
                ),
                extra={
                    "total_wall_s": statistics.fmean(ours["total_s"]),
                    "preset": args.preset,
                    "overrides": args.overrides,
                },
            )


if __name__ == "__main__":
    main()
