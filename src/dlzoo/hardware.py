"""What a number was measured on: CPU model, instruction sets, threads, library versions, GPU.

Recorded in every run's ``eval.json`` and every benchmark record, because timings (and, through the
kernels PyTorch dispatches, the last bits of float results) depend on it. Never compare timings of
records whose ``cpu`` differs.
"""

from __future__ import annotations

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
#: the ones where bf16 pays for training: AMX only. With AVX-512-BF16 alone (no AMX) a bf16 matmul ran
#: at 0.5-0.8x fp32's GFLOP/s and a GPT training step under bf16 autocast took 1.2-2x fp32's time
#: (benchmarks/bf16_speed.py, record bf16_speed-intel-xeon-avx512_bf16.json): auto keeps fp32 there
BF16_FASTER_ISA = ("amx_bf16",)


def native_bf16(accelerator: str) -> bool:
    """Whether bf16 runs natively where a run with this ``train.accelerator`` computes.

    On the CPU: AMX (AVX-512-BF16 alone has bf16 dot products but measured slower than fp32, and
    without either torch emulates bf16 through fp32). On a GPU: ``torch.cuda.is_bf16_supported()``
    (Ampere and later)."""
    import torch

    if accelerator in ("cuda", "gpu") or (accelerator == "auto" and torch.cuda.is_available()):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if accelerator == "mps":
        return False
    return any(f in BF16_FASTER_ISA for f in cpu_model()[1])


def resolve_precision(precision: str, accelerator: str) -> str:
    """``train.precision`` as Fabric takes it: ``auto`` is bf16-mixed on native-bf16 hardware, else 32-true."""
    if precision != "auto":
        return precision
    return "bf16-mixed" if native_bf16(accelerator) else "32-true"
