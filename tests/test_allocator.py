"""retain_freed_memory: a CPU step's tensors reuse freed memory instead of faulting in fresh pages."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from dlzoo.training.allocator import MMAP_THRESHOLD_MAX, retain_freed_memory

# a training step's pattern in a worker thread (as task.microbatch_threads runs it): 40 activations of
# ~0.8 MB kept alive through the forward, all freed after the backward; counts the page faults of 10 steps
STEPS = """
import resource, sys, torch
from concurrent.futures import ThreadPoolExecutor
from dlzoo.training.allocator import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
def steps(_):
    for _ in range(10):
        saved = [torch.ones(6, 64, 512) for _ in range(40)]
        del saved
pool = ThreadPoolExecutor(2)
list(pool.map(steps, range(2)))  # warm-up: the first touch of the memory faults in any case
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
list(pool.map(steps, range(2)))
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, timeout=120, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_retained_memory_is_reused_without_page_faults() -> None:
    default, retained = faults("default"), faults("retain")
    pages = 2 * 10 * 40 * 6 * 64 * 512 * 4 // 4096  # every step's activations on fresh 4 KiB pages: ~150k
    assert retained < 0.01 * pages, f"{retained} page faults with freed memory retained (fresh pages: {pages})"
    assert default > 10 * max(retained, 100), f"glibc's defaults faulted {default} times, retained {retained}"


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValueError, match="glibc's limit"):
        retain_freed_memory(mmap_threshold=MMAP_THRESHOLD_MAX + 1)
    with pytest.raises(ValueError, match="trim_threshold"):
        retain_freed_memory(trim_threshold=0)
