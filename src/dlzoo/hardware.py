"""What a number was measured on: CPU model, instruction sets, threads, library versions, GPU.

Recorded in every run's ``eval.json`` and every benchmark record, because timings (and, through the
kernels PyTorch dispatches, the last bits of float results) depend on it. Never compare timings of
records whose ``cpu`` differs.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path
from typing import Any

#: instruction-set flags of /proc/cpuinfo that change which kernels run (vector width, bf16/fp16, AMX)
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16")


def cpu_model() -> tuple[str, list[str]]:
    """The CPU's model name and the instruction sets of ISA_FLAGS it has (Linux; elsewhere platform's name)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())  # the first processor's entry
    except OSError:
        pass
    flags = set(fields.get("flags", "").split())
    return fields.get("model name") or platform.processor() or platform.machine(), [f for f in ISA_FLAGS if f in flags]


def hardware() -> dict[str, Any]:
    """CPU model and instruction sets, PyTorch's dispatch level, threads, versions, GPU (if any)."""
    import torch

    cpu, isa = cpu_model()
    info: dict[str, Any] = {
        "cpu": cpu,
        "isa": isa,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),  # the kernels PyTorch dispatches
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


#: instruction sets with native bf16 arithmetic (AMX tiles, AVX-512-BF16 dot products)
BF16_ISA = ("amx_bf16", "avx512_bf16")
#: where bf16 pays for training without asking: AMX. With AVX-512-BF16 alone it depends on the CPU: on an
#: Intel Xeon a training step under bf16 autocast took 1.2-2x fp32's time (record
#: bf16_speed-intel-xeon-avx512_bf16.json), on an AMD EPYC 0.56-0.86x (bf16_speed-amd-epyc-avx512_bf16.json:
#: matmuls 2.2x fp32's GFLOP/s). There ``auto`` measures (``bf16_training_speedup``) instead of guessing.
BF16_FASTER_ISA = ("amx_bf16",)
#: bf16 is chosen where its probe step runs at least this much faster than fp32's (a margin over timing noise)
BF16_PROBE_MIN_SPEEDUP = 1.2


def native_bf16(accelerator: str) -> bool:
    """Whether bf16 runs natively, and faster than fp32, where a run with this ``train.accelerator`` computes.

    On the CPU: AMX; AVX-512-BF16 without AMX when the measured probe (``bf16_training_speedup``) is at least
    ``BF16_PROBE_MIN_SPEEDUP``; never without either (torch emulates bf16 through fp32). On a GPU:
    ``torch.cuda.is_bf16_supported()`` (Ampere and later)."""
    import torch

    if accelerator in ("cuda", "gpu") or (accelerator == "auto" and torch.cuda.is_available()):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if accelerator == "mps":
        return False
    isa = cpu_model()[1]
    if any(f in BF16_FASTER_ISA for f in isa):
        return True
    return any(f in BF16_ISA for f in isa) and bf16_training_speedup() >= BF16_PROBE_MIN_SPEEDUP


@functools.lru_cache(maxsize=1)
def bf16_training_speedup(*, width: int = 512, batch: int = 128, repeats: int = 5) -> float:
    """fp32 time / bf16-autocast time of one training step of a small MLP on this CPU, at the current
    thread count (best of ``repeats`` after a warm-up, the two precisions alternating). About 0.1 s; measured
    once per process. What a matmul alone shows can mislead: on the Intel Xeon above, bf16 matmuls of 1024
    ran 2x fp32's speed while every training step was slower."""
    import time

    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, width, generator=g)
    net = torch.nn.Sequential(
        torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, width), torch.nn.ReLU()
    )

    def step(bf16: bool) -> float:
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = net(x).float().square().mean()
        loss.backward()
        return time.perf_counter() - t0

    best = {False: float("inf"), True: float("inf")}
    for i in range(repeats + 1):  # the first round warms up both kernels and is not counted
        for bf16 in (False, True):
            took = step(bf16)
            best[bf16] = min(best[bf16], took) if i else best[bf16]
    return best[False] / best[True]


def resolve_precision(precision: str, accelerator: str) -> str:
    """``train.precision`` as Fabric takes it: ``auto`` is bf16-mixed on native-bf16 hardware, else 32-true."""
    if precision != "auto":
        return precision
    return "bf16-mixed" if native_bf16(accelerator) else "32-true"
