"""SCARF pre-training against no pre-training on scikit-learn's tables, with 10% of the training labels.

    DLZOO_DATA=../shared/data python benchmarks/ssl_tabular.py --seeds 0 1 2
    python benchmarks/ssl_tabular.py --smoke                                  # seconds, records nothing

Data: digits, breast_cancer and wine with the mlp family's split (stratified 80/20, split_seed 0). The
labelled set is 10% of the training rows, stratified, drawn with the seed. For each seed:

- ``scarf``: SCARF (``scarf`` model, MLP encoder 256-256, NT-Xent at temperature 1, 60% of the features
  resampled from their empirical marginals) pre-trained on *all* training rows without labels for
  ``--epochs`` epochs, then a linear probe (softmax regression, L-BFGS) on the 10% labelled embeddings;
- no pre-training, two baselines: the same linear probe on the standardized raw features, and the same
  MLP encoder + a linear head trained from scratch with cross-entropy on the 10% (Adam 1e-3, full batch,
  ``--supervised-steps`` steps).

Test accuracy on the 20% test split.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, record  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.layers import fit_standardizers  # noqa: E402
from dlzoo.metrics.representation import linear_probe_accuracy  # noqa: E402
from dlzoo.registry import create_model  # noqa: E402
from dlzoo.runs import RunDir, default_run_name, load_run  # noqa: E402
from dlzoo.training import train_run  # noqa: E402

DATASETS = ["digits", "breast_cancer", "wine"]
SPLIT = "the mlp family's split: stratified 80/20 (split_seed 0); 10% of the train rows labelled (stratified, per seed)"


def labelled(y: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """A stratified ``fraction`` of the rows (at least one per class), drawn from a generator with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    idx = []
    for c in torch.unique(y):
        members = (y == c).nonzero().flatten()
        take = max(1, round(fraction * len(members)))
        idx.append(members[torch.randperm(len(members), generator=g)[:take]])
    return torch.cat(idx)


def supervised(data, idx: torch.Tensor, steps: int, seed: int) -> float:
    torch.manual_seed(seed)
    model = create_model("scarf", in_features=data.train.x.shape[1])
    fit_standardizers(model, data.train.x)
    head = torch.nn.Linear(model.embed_dim, int(data.info.num_classes))
    opt = torch.optim.Adam([*model.encoder.parameters(), *head.parameters()], lr=1e-3)
    model.train()
    for _ in range(steps):
        loss = F.cross_entropy(head(model.embed(data.train.x[idx])), data.train.y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return float((head(model.embed(data.test.x)).argmax(1) == data.test.y).double().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--supervised-steps", type=int, default=300)
    p.add_argument("--fraction", type=float, default=0.1)
    p.add_argument("--runs", default="/tmp/dlzoo-ssl-tabular-runs")
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args()
    if args.smoke:
        args.epochs, args.supervised_steps, args.seeds = 2, 5, [0]

    table: dict[str, dict[str, list[float]]] = {}
    for name in args.datasets:
        data = load_dataset(name)
        row = table.setdefault(name, {"scarf": [], "raw_probe": [], "supervised": [], "scarf_wall_s": []})
        for seed in args.seeds:
            idx = labelled(data.train.y, args.fraction, seed)
            cfg = resolve_config(
                "scarf",
                preset="default",
                overrides=[
                    f"data.name={name}",
                    "data.val_size=0.0",
                    f"train.epochs={args.epochs}",
                    "train.batch_size=128",
                    f"train.seed={seed}",
                    "train.progress=false",
                    "train.eval_every=1000",
                ],
            )
            run = RunDir.create(Path(args.runs), f"scarf-{name}", default_run_name())
            t0 = time.perf_counter()
            train_run(cfg, run)
            row["scarf_wall_s"].append(time.perf_counter() - t0)
            model = load_run(run.path).model.eval()
            with torch.no_grad():
                h_train, h_test = model.embed(data.train.x), model.embed(data.test.x)
            row["scarf"].append(linear_probe_accuracy(h_train[idx], data.train.y[idx], h_test, data.test.y))
            row["raw_probe"].append(
                linear_probe_accuracy(data.train.x[idx], data.train.y[idx], data.test.x, data.test.y)
            )
            row["supervised"].append(supervised(data, idx, args.supervised_steps, seed))
            print(name, seed, {k: round(v[-1], 4) for k, v in row.items()}, flush=True)
        cfgs = cfg
        if args.smoke:
            continue
        mean = lambda v: sum(v) / len(v)  # noqa: E731
        record(
            "ssl_tabular",
            key=f"scarf-{name}",
            model="scarf",
            family="ssl",
            dataset=name,
            dataset_version=data.info.version,
            metric=f"test/accuracy, linear probe on {round(100 * args.fraction)}% of the labels",
            values=row["scarf"],
            seeds=args.seeds,
            wall_time_s=mean(row["scarf_wall_s"]),
            split=SPLIT,
            baselines=[
                {"name": "no pre-training: linear probe on the raw features", "value": mean(row["raw_probe"])},
                {"name": "no pre-training: the same MLP trained on the labels", "value": mean(row["supervised"])},
            ],
            config=cfgs.model_dump(mode="json"),
            extra={"per_seed": row},
            notes=f"SCARF {args.epochs} epochs, batch 128, fp32, 1 torch thread on a shared 2-core machine.",
        )
    out = RESULTS / "figures" / "ssl"
    out.mkdir(parents=True, exist_ok=True)
    if not args.smoke:
        (out / "table-tabular.json").write_text(json.dumps({"args": vars(args), "table": table}, indent=1))


if __name__ == "__main__":
    main()
