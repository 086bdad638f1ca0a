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
