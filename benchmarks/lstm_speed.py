"""Speed of our LSTM cell (unrolled in Python, cells.py) against the fused ``torch.nn.LSTM``, tokens/s.

    flock /tmp/dlzoo-bench.lock python benchmarks/lstm_speed.py
    python benchmarks/lstm_speed.py --reps 3 --no-record          # a try

Both paths are the same ``RecurrentLayer`` with the same weights (``fused=False`` / ``True``): one
layer, batch 64, T = 100 steps, 32 input features, 128 hidden units, float32 on the CPU, one torch
thread. A token is one (sequence, step) pair; "train" times forward + backward, "infer" forward under
``torch.no_grad``. The reported value is ours / fused tokens/s for training (< 1: ours is slower);
the median of ``--reps`` timed repetitions after one warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

from dlzoo.families.rnn.model import RecurrentLayer  # noqa: E402


def tokens_per_s(layer: RecurrentLayer, x: torch.Tensor, *, train: bool, reps: int) -> float:
    times = []
    for i in range(reps + 1):
        t0 = time.perf_counter()
        if train:
            out, _ = layer(x)
            out.sum().backward()
        else:
            with torch.no_grad():
                layer(x)
        if i:  # the first pass warms up the allocator and kernels
            times.append(time.perf_counter() - t0)
    return x.shape[0] * x.shape[1] / statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--features", type=int, default=32)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-record", action="store_true")
    p.add_argument("--note", default="", help="appended to the record's notes (e.g. how busy the machine was)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    fused = RecurrentLayer(cell="lstm", input_size=args.features, hidden_size=args.hidden, fused=True)
    ours = RecurrentLayer(cell="lstm", input_size=args.features, hidden_size=args.hidden, fused=False)
    ours.load_state_dict(fused.state_dict())
    x = torch.randn(args.batch, args.steps, args.features)
    result = {}
    for mode in ("train", "infer"):
        for name, layer in (("fused", fused), ("ours", ours)):
            result[f"{name}_{mode}"] = tokens_per_s(layer, x, train=mode == "train", reps=args.reps)
    for k, v in result.items():
        print(f"{k}: {v:,.0f} tokens/s")
    ratio_train = result["ours_train"] / result["fused_train"]
    ratio_infer = result["ours_infer"] / result["fused_infer"]
    print(f"ours / fused: train {ratio_train:.2f}, infer {ratio_infer:.2f}")
    if args.no_record:
        return
    record(
        "lstm_speed",
        key="lstm",
        model="RecurrentLayer(lstm)",
        family="rnn",
        dataset="random (B, T, F) inputs",
        split="n/a",
        metric="tokens/s ratio ours / fused (train)",
        values=[ratio_train],
        seeds=[0],
        wall_time_s=1.0 / result["ours_train"] * args.batch * args.steps,
        higher_is_better=True,
        baselines=[
            {"name": "torch.nn.LSTM (fused), train tokens/s", "value": result["fused_train"]},
            {"name": "ours, train tokens/s", "value": result["ours_train"]},
            {"name": "torch.nn.LSTM (fused), infer tokens/s", "value": result["fused_infer"]},
            {"name": "ours, infer tokens/s", "value": result["ours_infer"]},
        ],
        config=vars(args),
        notes=f"{args.threads} torch thread(s) on a {os.cpu_count()}-core machine shared with other jobs; "
        "wall_time_s = one training pass (forward + backward) of our unrolled path"
        + (f"; {args.note}" if args.note else ""),
        extra={"ratio_infer": ratio_infer, "tokens_per_s": result},
    )


if __name__ == "__main__":
    main()
