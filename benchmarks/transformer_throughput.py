"""GPT throughput on this CPU: training tokens/s and MFU against the measured matmul peak; cached generation.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/transformer_throughput.py
    DLZOO_DATA=../shared/data python benchmarks/transformer_throughput.py --threads 2 --no-record

- peak: the best fp32 ``torch.mm`` rate of square matrices (1024, 2048) with the same thread count,
  2 n^3 FLOP per product: the machine's practical matmul peak, measured, not read off a datasheet.
- training: ``train_run`` of ``gpt --preset shakespeare_cpu`` (the nanoGPT CPU configuration) for
  ``--iters`` iterations; tokens/s = B T x steps / seconds between the first and the last logged
  step (setup and evaluation excluded). MFU = flops_per_token x tokens/s / peak with nanoGPT's
  ``estimate_mfu`` count, flops_per_token = 6 N + 12 L H Q T (N non-embedding parameters, L layers,
  H heads, Q head size, T block size; the backward pass counted as twice the forward).
- generation: the same architecture (random weights: speed does not depend on them), batch 1, a
  1-character prompt, ``block_size - 1`` new tokens sampled at temperature 1, with and without the
  key/value cache, for block sizes 64 (the preset) and 256.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record

from dlzoo.config import resolve_config
from dlzoo.registry import create_model
from dlzoo.runs import RunDir
from dlzoo.training.loop import train_run


def matmul_peak() -> float:
    """Best fp32 GFLOP/s of torch.mm on square matrices, with the current thread count."""
    best = 0.0
    g = torch.Generator().manual_seed(0)
    for n in (1024, 2048):
        a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
        torch.mm(a, b)
        for _ in range(5):
            t = time.perf_counter()
            torch.mm(a, b)
            best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def train_tokens_per_s(iters: int, overrides: list[str]) -> tuple[float, float, dict]:
    """(tokens/s, flops per token, config) of the shakespeare_cpu preset trained for ``iters`` steps."""
    cfg = resolve_config(
        "gpt",
        preset="shakespeare_cpu",
        overrides=[
            f"task.max_iters={iters}",
            f"task.eval_interval={iters}",
            "task.eval_iters=1",
            "task.full_eval=false",
            "train.log_every=10",
            "train.progress=false",
            *overrides,
        ],
    )
    with tempfile.TemporaryDirectory(prefix="dlzoo-throughput-") as tmp:
        run = RunDir.create(tmp, "gpt", "t")
        train_run(cfg, run)
        rows = [r for r in run.read_metrics() if "train/loss" in r]
        from dlzoo.runs import load_run

        model = load_run(run.path).model
    first, last = rows[0], rows[-1]
    t, m = cfg.task, cfg.model
    tokens = (last["step"] - first["step"]) * cfg.train.batch_size * t["block_size"]
    n_params = model.num_params()  # non-embedding, as nanoGPT's get_num_params()
    q = m["n_embd"] // m["n_head"]
    flops_per_token = 6 * n_params + 12 * m["n_layer"] * m["n_head"] * q * t["block_size"]
    return tokens / (last["time"] - first["time"]), flops_per_token, cfg.model_dump(mode="json")


def bare_loop_tokens_per_s(iters: int, config: dict) -> float:
    """The same model, optimizer, batches and clipping in a plain PyTorch loop: the pipeline's overhead."""
    import os as _os

    from dlzoo.config import TrainConfig
    from dlzoo.data import load_dataset
    from dlzoo.objectives import cross_entropy_lm
    from dlzoo.optim import decay_groups, make_optimizer
    from dlzoo.tasks.language import blocks_at

    if "DLZOO_DATA" not in _os.environ:
        raise SystemExit("set DLZOO_DATA to the folder holding tinyshakespeare/input.txt")
    train = load_dataset("tinyshakespeare").train
    m, t, tr = config["model"], config["task"], config["train"]
    torch.manual_seed(0)
    model = create_model("gpt", **{k: v for k, v in m.items() if k != "name"}).train()
    opt = make_optimizer(
        decay_groups(model, tr["weight_decay"]),
        TrainConfig.model_validate(tr),
        betas=(t["beta1"], t["beta2"]),
        momentum=t["beta1"],
        fused=True,
    )
    T, B = t["block_size"], tr["batch_size"]
    starts = torch.randint(len(train) - T, (iters + 10, B), generator=torch.Generator().manual_seed(0))
    for i in range(iters + 10):
        if i == 10:  # the first steps warm up the allocator and kernels, as the pipeline's first logged window
            t0 = time.perf_counter()
        block = blocks_at(train, starts[i], T + 1)
        loss = cross_entropy_lm(model(block[:, :-1]), block[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tr["grad_clip"])
        opt.step()
    return iters * B * T / (time.perf_counter() - t0)


def generation_tokens_per_s(block_size: int, *, use_cache: bool, reps: int = 3) -> float:
    torch.manual_seed(0)
    model = create_model("gpt", vocab_size=65, block_size=block_size, n_layer=4, n_head=4, n_embd=128).eval()
    prompt = torch.zeros(1, 1, dtype=torch.long)
    new = block_size - 1
    model.generate(prompt, max_new_tokens=8, use_cache=use_cache)  # warm up
    best = 0.0
    for r in range(reps):
        t = time.perf_counter()
        model.generate(prompt, max_new_tokens=new, use_cache=use_cache, generator=torch.Generator().manual_seed(r))
        best = max(best, new / (time.perf_counter() - t))
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="dotted overrides for the training run")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: PyTorch's own, the core "
        "count); the preset's task.microbatch_threads=2 runs its two threads with 1 torch thread each",
    )
    p.add_argument("--iters", type=int, default=300, help="training iterations timed")
    p.add_argument("--seeds", type=int, default=1, help="repetitions of the training measurement")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    args.threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(args.threads)
    peak = matmul_peak()
    print(f"matmul peak: {peak:.1f} GFLOP/s ({args.threads} thread(s))", flush=True)
    tps, mfu = [], []
    for seed in range(args.seeds):
        rate, fpt, config = train_tokens_per_s(
            args.iters, [*args.overrides, f"train.seed={seed}", f"train.threads={args.threads}"]
        )
        torch.set_num_threads(args.threads)  # micro-batch threads set 1 for the process
        tps.append(rate)
        mfu.append(100 * rate * fpt / (peak * 1e9))
        print(
            f"training: {rate:.0f} tokens/s = {1000 * 768 / rate:.1f} ms/iteration of 12x64; "
            f"{fpt / 1e6:.2f} MFLOP/token; MFU {mfu[-1]:.1f}% of the measured peak",
            flush=True,
        )
    bare = bare_loop_tokens_per_s(args.iters, config)
    print(f"bare PyTorch loop, same model/optimizer/batches: {bare:.0f} tokens/s", flush=True)
    gen = {}
    for block in (64, 256):
        for cache in (True, False):
            gen[(block, cache)] = generation_tokens_per_s(block, use_cache=cache)
            print(
                f"generation, block {block}, {'cached' if cache else 'uncached'}: {gen[(block, cache)]:.0f} tokens/s",
                flush=True,
            )
    if args.no_record:
        return
    common = dict(
        model="gpt",
        family="transformer",
        dataset="tinyshakespeare",
        seeds=list(range(args.seeds)),
        split="train (throughput, not a quality metric)",
    )
    notes = (
        f"{args.threads} torch thread(s) (training: task.microbatch_threads="
        f"{config['task'].get('microbatch_threads', 1)}), {os.cpu_count()} cores (run under flock "
        "/tmp/dlzoo-bench.lock); matmul peak measured in the same process just before."
    )
    record(
        "transformer_throughput",
        key="train",
        metric="train/tokens_per_s",
        values=tps,
        wall_time_s=statistics.fmean(768 * args.iters / r for r in tps),
        config=config,
        baselines=[
            {
                "name": f"bare PyTorch loop, {args.threads} torch threads (same model, fused AdamW, batches, "
                "clipping; no Fabric, no logging, no micro-batch threads)",
                "value": bare,
                "sd": None,
                "wall_time_s": 768 * args.iters / bare,
            }
        ],
        notes=notes + " MFU uses nanoGPT's estimate_mfu FLOP count.",
        extra={
            "mfu_percent": mfu,
            "mfu_percent_mean": statistics.fmean(mfu),
            "matmul_peak_gflops": peak,
            "flops_per_token": fpt,
            "iters": args.iters,
            "threads": args.threads,
        },
        **common,
    )
    record(
        "transformer_throughput",
        key="generate",
        metric="generate/tokens_per_s (cached, block 64, batch 1)",
        values=[gen[(64, True)]],
        wall_time_s=63 / gen[(64, True)],
        baselines=[
            {"name": "uncached, block 64", "value": gen[(64, False)], "sd": None, "wall_time_s": None},
            {"name": "cached, block 256", "value": gen[(256, True)], "sd": None, "wall_time_s": None},
            {"name": "uncached, block 256", "value": gen[(256, False)], "sd": None, "wall_time_s": None},
        ],
        notes=notes + " Best of 3 generations of block_size - 1 tokens from a 1-token prompt, temperature 1.",
        extra={
            "tokens_per_s": {f"block{b}_{'cached' if c else 'uncached'}": v for (b, c), v in gen.items()},
            "threads": args.threads,
        },
        **common,
    )


if __name__ == "__main__":
    main()
