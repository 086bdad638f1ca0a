"""train.threads: how many intra-op threads torch uses for a run on the CPU.

Torch starts with one thread per physical core. On a machine whose cores are busy with other work,
or for a model whose ops are too small to split, that costs far more than it gains: the OpenMP team
spin-waits for a thread that has no core, and each of thousands of small ops pays a fork/join. On a
2-core machine with one core busy, ``mlp_classifier --preset default`` ran 10-40x slower with 2
threads than with 1, to the same metrics (the README's Training section has the measurements).

``auto`` picks the count from the work of one step and the cores that are free now:

- one thread when n_parameters x batch_size < SMALL_WORK (the ops are too small to split);
- otherwise the cores that were idle over a short sample of /proc/stat (Linux; elsewhere the
  usable cores less the 1-minute load average), shared among the run's processes on this machine;
- never more than the process allowed before the run (``torch.set_num_threads`` by the caller,
  ``OMP_NUM_THREADS``), and at least one.

A number sets the count as given. The loop applies it once the model is built, and records it in
config.yaml (``info.threads``) and eval.json (``hardware.torch_threads``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

#: parameters x examples per step below which a step's ops run faster on one thread
SMALL_WORK = 10_000_000


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def idle_cores(*, sample_s: float = 0.1) -> float:
    """Cores that were idle over ``sample_s`` seconds (this process sleeps meanwhile, so it is not counted)."""
    cores = usable_cores()
    try:
        before = _cpu_times()
        time.sleep(sample_s)
        after = _cpu_times()
    except (OSError, ValueError, IndexError):
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        return max(0.0, cores - load)
    total = sum(after) - sum(before)
    idle = (after[3] + after[4]) - (before[3] + before[4])  # idle + iowait jiffies
    return cores * idle / total if total > 0 else float(cores)


def _cpu_times() -> list[int]:
    """The aggregate ``cpu`` line of /proc/stat: user nice system idle iowait irq softirq steal ..."""
    line = Path("/proc/stat").read_text().splitlines()[0]
    return [int(v) for v in line.split()[1:9]]


def choose_threads(setting: int | str, *, n_params: int, batch_size: int, local_processes: int = 1) -> tuple[int, str]:
    """The thread count for ``train.threads`` and a one-line reason (recorded in config.yaml's info)."""
    import torch

    if setting != "auto":
        return int(setting), f"train.threads={setting}"
    allowed = torch.get_num_threads()  # the caller's torch.set_num_threads or OMP_NUM_THREADS
    work = n_params * batch_size
    if work < SMALL_WORK:
        return 1, f"auto: {n_params} parameters x batch {batch_size} is a small step: 1 thread"
    free = idle_cores() / max(1, local_processes)
    n = max(1, min(allowed, int(free + 0.25)))  # a core 3/4 idle counts as free
    return n, f"auto: {free:.1f} free core(s) per process, at most {allowed} (torch's setting before the run)"
