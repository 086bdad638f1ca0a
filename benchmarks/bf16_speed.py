"""Is bf16 faster than fp32 on this CPU? Matmul GFLOP/s and training steps, one thread, one run.

    python benchmarks/bf16_speed.py            # ~1 min, records bf16_speed-<cpu flags>.json
    python benchmarks/bf16_speed.py --smoke    # seconds, records nothing

Measures (1) square matmuls n = 256, 1024, 2048 in float32 and bfloat16 (GFLOP/s, median of
repeats), and (2) one training step (forward, backward, Adam) of registered models in float32
and under ``torch.autocast("cpu", torch.bfloat16)`` (what ``train.precision=bf16-mixed`` does): the
mnist ``mlp_classifier`` (2x800, batch 128), the ``gpt`` of the ``shakespeare_cpu`` preset (4
layers, 128 wide, batch 12 x 64) and nanoGPT's Shakespeare-char GPT (6 layers, 384 wide, batch 16 x
256). ``train.precision=auto`` should pick bf16 only where both say it is faster: the value recorded
is the fp32/bf16 time ratio of the 6x384 GPT step (> 1: bf16 is faster).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import machine_tag, record  # noqa: E402

from dlzoo.hardware import BF16_ISA, cpu_model  # noqa: E402
from dlzoo.registry import create_model  # noqa: E402


def median_time(fn: Callable[[], object], reps: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_gflops(n: int, dtype: torch.dtype, reps: int) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n**3 / median_time(lambda: a @ b, reps) / 1e9


def step_seconds(
    model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor], loss_fn, bf16: bool, reps: int
) -> float:  # noqa: ANN001
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x, y = batch

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return median_time(step, reps)


def models(smoke: bool) -> dict[str, tuple[torch.nn.Module, tuple[torch.Tensor, torch.Tensor], Callable]]:
    """name -> (model, batch, loss): the mnist MLP, nanoGPT's CPU GPT and its 6-layer 384-wide GPT."""
    torch.manual_seed(0)
    mlp = create_model("mlp_classifier", hidden=[800, 800], in_features=784, num_classes=10)
    out = {
        "mlp_classifier 2x800, batch 128": (mlp, (torch.rand(128, 784), torch.randint(0, 10, (128,))), F.cross_entropy)
    }

    def lm_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    gpts = {"gpt 4x128 (shakespeare_cpu), batch 12x64": (4, 4, 128, 64, 12)}
    if not smoke:
        gpts["gpt 6x384 (nanoGPT shakespeare-char), batch 16x256"] = (6, 6, 384, 256, 16)
    for name, (layers, heads, width, block, batch) in gpts.items():
        gpt = create_model("gpt", vocab_size=65, block_size=block, n_layer=layers, n_head=heads, n_embd=width)
        x = torch.randint(0, 65, (batch, block))
        out[name] = (gpt, (x, x), lm_loss)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    reps = 3 if args.smoke else 10
    matmul = {}
    for n in (256, 1024) if args.smoke else (256, 1024, 2048):
        matmul[n] = {
            str(dt).split(".")[1]: round(matmul_gflops(n, dt, reps), 1) for dt in (torch.float32, torch.bfloat16)
        }
        print(f"matmul {n}: {matmul[n]} GFLOP/s")
    steps = {}
    for name, (model, batch, loss_fn) in models(args.smoke).items():
        ms = {p: 1e3 * step_seconds(model, batch, loss_fn, p == "bf16", reps) for p in ("fp32", "bf16")}
        steps[name] = {k: round(v, 2) for k, v in ms.items()}
        print(f"train step {name}: fp32 {ms['fp32']:.1f} ms, bf16 autocast {ms['bf16']:.1f} ms")
    if args.smoke:
        return
    gpt = steps["gpt 6x384 (nanoGPT shakespeare-char), batch 16x256"]
    ratio = gpt["fp32"] / gpt["bf16"]
    isa = cpu_model()[1]
    native = [f for f in BF16_ISA if f in isa]
    record(
        "bf16_speed",
        key=machine_tag(),
        model="gpt",
        family="transformer",
        dataset="random tensors (speed only)",
        metric="bf16 autocast speed-up of a GPT training step (fp32 time / bf16 time)",
        values=[ratio],
        seeds=[0],
        wall_time_s=time.perf_counter() - t0,
        split="n/a (speed only)",
        config={"threads": 1, "reps": reps, "precision": "32-true vs bf16 autocast"},
        extra={
            "matmul_gflops": {str(k): v for k, v in matmul.items()},
            "train_step_ms": steps,
            "native_bf16_isa": native,
        },
        notes="median of 10 repeats after 2 warm-ups, one thread; matmul GFLOP/s fp32 vs bf16: "
        + "; ".join(f"n={n}: {v['float32']} vs {v['bfloat16']}" for n, v in matmul.items())
        + "; train steps (ms, fp32 vs bf16 autocast): "
        + "; ".join(f"{k}: {v['fp32']} vs {v['bf16']}" for k, v in steps.items()),
    )


if __name__ == "__main__":
    main()
