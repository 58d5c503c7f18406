"""Keep host memory that XLA frees mapped, so the next call reuses it instead of page-faulting.

XLA on CPU allocates an execution's buffers with malloc and frees them when they die. glibc serves
every block above its mmap threshold (at most 32 MiB) with a fresh `mmap` and unmaps it on free,
so a program with such buffers page-faults all of them on every call: 8 vmapped HalfCheetah seeds
took ~10,800 minor faults and ~19 ms of kernel time per update, 0.6x the per-seed rate of 4 seeds
(docs/scaling.md). With mmap off and no trimming, large blocks come from the heap and later calls
reuse the same pages. A worker thread's arena grows in heaps of at most 64 MiB: glibc still maps
blocks beyond them, and unmaps an extra heap once all of it is free. One arena for all threads
avoids both, but the threads then contend for its lock, which made the one-seed Humanoid update
20% slower. So one arena is for many vmapped runs only.
"""

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_MAX = -4
M_ARENA_MAX = -8
NEVER_TRIM = 2**31 - 1  # mallopt takes an int: the largest free heap top glibc may keep


def reuse_freed_memory(one_arena: bool = False) -> bool:
    """Make glibc's malloc keep freed memory for reuse (process-wide; set it before the XLA
    threads start, as `train()` does). Returns False, and changes nothing, where the C library is
    not glibc (macOS, musl)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if not hasattr(libc, "gnu_get_libc_version"):
        return False
    settings = [(M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, NEVER_TRIM)] + [(M_ARENA_MAX, 1)] * one_arena
    return all([libc.mallopt(param, value) for param, value in settings])
