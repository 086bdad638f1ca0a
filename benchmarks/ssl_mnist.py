"""Self-supervised methods on MNIST side by side: linear probe, k-NN, 100-label accuracy, wall time.

    DLZOO_DATA=../shared/data python benchmarks/ssl_mnist.py --epochs 2 --precision bf16-mixed   # every method, seed 0
    DLZOO_DATA=../shared/data python benchmarks/ssl_mnist.py --methods simclr byol --seeds 0 1 2
    python benchmarks/ssl_mnist.py --smoke                                          # seconds, records nothing

Every method trains the same encoder (preset ``mnist``: ConvEncoder 16-32-64-128, a 128-d
representation) with the same augmentations (random resized crop of 30-100% of the area, +-15 degree
rotation: kornia) for the same epochs (Adam, cosine schedule, batch 256) through dlzoo's own loop; the
evaluation is the representation paradigm's final one on the frozen encoder (eval.json):

- ``test/linear_probe_accuracy``: softmax regression (L-BFGS, 100 iterations) on the 55000 train embeddings;
- ``test/knn_20_accuracy`` / ``knn_200``: weighted cosine k-NN against the train embeddings;
- ``test/probe_100_labels_accuracy``: the same probe fitted on only 100 labelled train images (10 a class);
- ``test/effective_rank``: RankMe of the 10000 test embeddings.

Beside them, on the same encoder architecture and metrics: a random-init encoder (the same evaluation
without training) and supervised training of the encoder + a linear head on the same 100 labels (the same
augmentations, Adam 1e-3, ``--supervised-steps`` steps). Data: LeCun's MNIST, train = first 55000,
val = last 5000 training images, test = the published 10000.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, record  # noqa: E402

os.environ.setdefault("DLZOO_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.registry import get_spec  # noqa: E402
from dlzoo.runs import RunDir, default_run_name  # noqa: E402
from dlzoo.tasks import make_task  # noqa: E402
from dlzoo.tasks.base import Context  # noqa: E402
from dlzoo.tasks.representation import EVAL_SEED, balanced_subset  # noqa: E402
from dlzoo.training import train_run  # noqa: E402

METHODS = ["simclr", "barlow_twins", "vicreg", "byol", "simsiam"]
METRICS = [
    "linear_probe_accuracy",
    "knn_20_accuracy",
    "knn_200_accuracy",
    "probe_100_labels_accuracy",
    "effective_rank",
    "alignment",
    "uniformity",
]
SPLIT = "test: the published 10000 test images; train: first 55000 training images (probe and k-NN reference)"
AUTOENCODER_PROBE = {"name": "autoencoder family's best probe (benchmarks/autoencoders_mnist.py)", "value": 0.961}
REFERENCE = {
    "value": 0.99,
    "source": "the task's goal for the best method: linear probe >= 99.0% and 100-label accuracy >= 95% on MNIST",
}


def overrides(args: argparse.Namespace, seed: int) -> list[str]:
    out = [
        f"train.epochs={args.epochs}",
        f"train.seed={seed}",
        "train.progress=false",
        f"train.precision={args.precision}",
    ]
    if args.smoke:
        out += ["data.limit=2000"]
    return out


def random_encoder(method: str, args: argparse.Namespace, seed: int) -> dict[str, float]:
    """The same evaluation (the paradigm's final one) on an untrained encoder of the same architecture."""
    from lightning_fabric import Fabric

    cfg = resolve_config(method, preset="mnist", overrides=overrides(args, seed))
    fabric = Fabric(accelerator="cpu", devices=1)
    fabric.seed_everything(seed, verbose=False)
    task = make_task(Context(get_spec(method), cfg, fabric))
    task.setup()
    return task.evaluate("test", final=True), task


def supervised_100(task, args: argparse.Namespace, seed: int) -> tuple[float, float]:
    """Encoder + linear head trained with cross-entropy on the 100 labelled images the probe sees (same
    augmentations); returns (test accuracy, wall seconds)."""
    torch.manual_seed(seed)
    spec = get_spec("simclr")
    model = spec.builder(
        input_shape=tuple(task.data.info.input_shape),
        **{k: v for k, v in task.ctx.cfg.model.items() if k in ("channels", "proj_hidden", "proj_dim")},
    )
    head = torch.nn.Linear(model.embed_dim, 10)
    idx = balanced_subset(task.data.train.y, 100, seed=EVAL_SEED)
    x, y = task.data.train.x[idx], task.data.train.y[idx]
    opt = torch.optim.Adam([*model.encoder.parameters(), *head.parameters()], lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    model.train()
    for _ in range(args.supervised_steps):
        view = task.objective.augment(x, g)
        loss = F.cross_entropy(head(model.embed(view)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    wall = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        test = task.data.test
        pred = torch.cat([head(model.embed(test.x[i : i + 1000])).argmax(1) for i in range(0, len(test.x), 1000)])
    return float((pred == test.y).double().mean()), wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--precision", default="32-true", help="train.precision of every run (32-true, bf16-mixed)")
    p.add_argument("--supervised-steps", type=int, default=300)
    p.add_argument("--runs", default="/tmp/dlzoo-ssl-mnist-runs")
    p.add_argument("--smoke", action="store_true", help="2000 images, records nothing")
    args = p.parse_args()

    # the baselines first (minutes), then each method, recorded as soon as it finishes
    base: dict[str, dict[str, list[float]]] = {"random-init encoder": {}, "supervised, 100 labels": {}}
    for seed in args.seeds:
        metrics, task = random_encoder(args.methods[0], args, seed)
        for m in METRICS:
            base["random-init encoder"].setdefault(m, []).append(metrics[f"test/{m}"])
        acc, wall = supervised_100(task, args, seed)
        base["supervised, 100 labels"].setdefault("test_accuracy", []).append(acc)
        base["supervised, 100 labels"].setdefault("wall_time_s", []).append(wall)
    print(json.dumps(base, indent=1), flush=True)
    out = RESULTS / "figures" / "ssl"
    out.mkdir(parents=True, exist_ok=True)

    table: dict[str, dict[str, list[float]]] = {}
    for method in args.methods:
        for seed in args.seeds:
            cfg = resolve_config(method, preset="mnist", overrides=overrides(args, seed))
            run = RunDir.create(Path(args.runs), method, default_run_name())
            train_run(cfg, run)
            result = json.loads(run.eval_path.read_text())
            row = table.setdefault(method, {})
            for m in METRICS:
                row.setdefault(m, []).append(result[f"test/{m}"])
            row.setdefault("wall_time_s", []).append(result["wall_time_s"])
            print(method, seed, {m: round(v[-1], 4) for m, v in row.items()}, flush=True)
        if not args.smoke:
            record_method(method, table[method], cfg, base, args)
            (out / "table-mnist.json").write_text(
                json.dumps({"args": vars(args), "table": table, "baselines": base}, indent=1)
            )


def mean(v: list[float]) -> float:
    return sum(v) / len(v)


def record_method(method: str, row: dict[str, list[float]], cfg, base: dict, args: argparse.Namespace) -> None:
    rnd, sup = base["random-init encoder"], base["supervised, 100 labels"]
    notes = (
        f"{args.epochs} epochs (a CPU budget of minutes: the papers train hundreds), {args.precision}, "
        f"1 torch thread on a 2-core machine shared with other jobs (wall times are inflated)."
    )
    common = dict(
        model=method,
        family="ssl",
        dataset="mnist",
        dataset_version=cfg.info.get("dataset_version"),
        split=SPLIT,
        seeds=args.seeds,
        wall_time_s=mean(row["wall_time_s"]),
        config=cfg.model_dump(mode="json"),
        extra={"metrics": {m: mean(v) for m, v in row.items()}, "per_seed": row},
        notes=notes,
    )
    record(
        "ssl_mnist",
        key=f"{method}-probe",
        metric="test/linear_probe_accuracy",
        values=row["linear_probe_accuracy"],
        reference=REFERENCE,
        baselines=[{"name": "random-init encoder", "value": mean(rnd["linear_probe_accuracy"])}, AUTOENCODER_PROBE],
        **common,
    )
    record(
        "ssl_mnist",
        key=f"{method}-100labels",
        metric="test/probe_100_labels_accuracy",
        values=row["probe_100_labels_accuracy"],
        reference={"value": 0.95, "source": REFERENCE["source"]},
        baselines=[
            {"name": "random-init encoder", "value": mean(rnd["probe_100_labels_accuracy"])},
            {
                "name": f"supervised on the 100 labels ({args.supervised_steps} steps)",
                "value": mean(sup["test_accuracy"]),
            },
        ],
        **common,
    )
    record(
        "ssl_mnist",
        key=f"{method}-knn20",
        metric="test/knn_20_accuracy",
        values=row["knn_20_accuracy"],
        baselines=[{"name": "random-init encoder", "value": mean(rnd["knn_20_accuracy"])}],
        **common,
    )


if __name__ == "__main__":
    main()
