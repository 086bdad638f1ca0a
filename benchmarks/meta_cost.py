"""Cost of one meta-update: second-order MAML vs first-order MAML vs Reptile, 1 / 5 / 10 inner steps.

    python benchmarks/meta_cost.py            # ~1 minute, records
    python benchmarks/meta_cost.py --smoke    # one configuration, no record

One meta-update = meta_loss + backward on a meta-batch of 4 Omniglot-sized 5-way 1-shot episodes
(5 queries per class; generated 28x28 strokes: the cost does not depend on the pixels) with the
Conv-4 backbone (64 filters). Time: the median of ``--reps`` updates after one warm-up. Memory: each
configuration runs in a fresh process; the peak is the growth of the process's maximum resident set
size (``resource.getrusage``) over one update, measured after model, data and a forward pass exist.
Second-order MAML keeps every inner step's graph (memory linear in the steps, and Hessian-vector
products in the backward); FOMAML and Reptile keep none.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

METHODS = ("maml", "fomaml", "reptile")
STEPS = (1, 5, 10)


def measure(method: str, steps: int, reps: int) -> dict:
    """In this process: median seconds per meta-update and the peak-RSS growth of one update (MiB)."""
    import torch

    from dlzoo.data import load_dataset
    from dlzoo.data.fewshot import EpisodeSampler
    from dlzoo.registry import create_model, get_spec

    torch.set_num_threads(1)
    spec = get_spec(method)
    objective = spec.objective(spec.objective.Config(n_way=5, k_shot=1, n_query=5, inner_lr=0.4, inner_steps=steps))
    torch.manual_seed(0)
    model = create_model(method, input_shape=(1, 28, 28), out_features=5, hidden=64)
    data = load_dataset("omniglot_synthetic", num_classes=40, per_class=10)
    batches = list(
        EpisodeSampler(data, n_way=5, k_shot=1, n_query=5, seed=0).round(0, count=reps + 1, meta_batch_size=4)
    )
    with torch.no_grad():
        model(batches[0][0].query_x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for batch in batches:
        t0 = time.perf_counter()
        loss, _ = objective.meta_loss(model, batch)
        loss.backward()
        times.append(time.perf_counter() - t0)
        model.zero_grad(set_to_none=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"seconds": statistics.median(times[1:]), "peak_mib": (peak - before) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "STEPS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.reps)))
        return
    configs = [("maml", 1)] if args.smoke else [(m, s) for m in METHODS for s in STEPS]
    t0, rows = time.perf_counter(), {}
    for method, steps in configs:
        out = subprocess.run(
            [sys.executable, __file__, "--child", method, str(steps), "--reps", str(1 if args.smoke else args.reps)],
            check=True,
            capture_output=True,
            text=True,
        )
        rows[(method, steps)] = json.loads(out.stdout.strip().splitlines()[-1])
        r = rows[(method, steps)]
        print(f"{method} {steps} steps: {1000 * r['seconds']:.0f} ms, peak +{r['peak_mib']:.0f} MiB")
    if args.smoke:
        return
    wall = time.perf_counter() - t0
    print("\n| inner steps | " + " | ".join(f"{m} ms / MiB" for m in METHODS) + " |\n|---|---|---|---|")
    for s in STEPS:
        cells = " | ".join(f"{1000 * rows[(m, s)]['seconds']:.0f} / {rows[(m, s)]['peak_mib']:.0f}" for m in METHODS)
        print(f"| {s} | {cells} |")
    for method in METHODS:
        record(
            "meta_cost",
            key=method,
            model=method,
            family="meta",
            dataset="omniglot_synthetic (28x28, 5-way 1-shot, 5 queries, meta-batch 4)",
            metric="seconds per meta-update at 10 inner steps",
            values=[rows[(method, 10)]["seconds"]],
            seeds=[0],
            wall_time_s=wall,
            split="n/a (cost only)",
            higher_is_better=False,
            config={"reps": args.reps, "backbone": "Conv-4, 64 filters"},
            notes="median of the updates after a warm-up, one torch thread on a shared CPU (timings are noisy); "
            "peak = growth of the process's max RSS over the updates",
            extra={
                "by_steps": {
                    str(s): {"seconds": rows[(method, s)]["seconds"], "peak_mib": rows[(method, s)]["peak_mib"]}
                    for s in STEPS
                }
            },
        )


if __name__ == "__main__":
    main()
