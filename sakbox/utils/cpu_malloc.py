"""Keep freed CPU tensor memory in the process (glibc ``mallopt``) instead of unmapping it.

glibc serves every allocation above 32 MB (the largest ``M_MMAP_THRESHOLD`` it
allows) with a fresh ``mmap`` and gives it back with ``munmap`` when freed. A CPU
training step allocates and frees many such blocks (activations, SAM's
4096 x 4096 attention bias per head), so every step pays the kernel for
page faults and zeroed pages again: on a 2-core AVX512-BF16 EPYC a batch-2
SAM-B forward at 1024 px took 20.3 s in fp32 and 8.6 s in bf16 that way,
13.3 s and 7.6 s with the memory kept (``docs/benchmarks.md``).

``cpu_malloc = 'retain'`` (a top-level key, set in ``configs/_base_/default_runtime.py``)
turns glibc's mmap path off (``M_MMAP_MAX = 0``) and never trims the heap
(``M_TRIM_THRESHOLD = SIZE_MAX``), so freed blocks are reused by the next step.
Freed blocks stay resident, and those no later request fits raise the peak:
``configs/sak_nyud.py``'s fp32 step went from 9.06 to 10.80 GiB peak RSS on that
machine (bf16: 7.54 to 9.00 GiB), in runs an hour apart, with timm's SAM attention;
with the SAM teacher's blocked attention (no dense 1.6 GB bias per block) the retained
fp32 step peaked at 9.02 GiB, under the official code's 9.46. ``'default'`` leaves the
allocator as it is. It only applies to runs without CUDA (on GPUs the host
allocations are small) and is a no-op where the C library is not glibc.
"""
import ctypes
import ctypes.util
from typing import Any, Mapping, Optional

import torch

#: Accepted values of the ``cpu_malloc`` config key.
CPU_MALLOC_MODES = ('retain', 'default')
#: glibc's ``mallopt`` parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


def _libc() -> Optional[Any]:
    """The process's C library if it has ``mallopt`` (glibc), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    except OSError:
        return None
    return libc if hasattr(libc, 'mallopt') else None


def retain_freed_cpu_memory() -> bool:
    """Make glibc keep freed memory for reuse (no mmap for big blocks, no heap trim).

    Process-wide and for the rest of the process; allocations made before keep
    their mapping.

    Returns:
        bool: True if both settings were accepted (glibc), False otherwise.
    """
    libc = _libc()
    if libc is None:
        return False
    # mallopt takes an int: -1 is SIZE_MAX as glibc's size_t threshold (never trim).
    ok_mmap = libc.mallopt(M_MMAP_MAX, 0) == 1
    ok_trim = libc.mallopt(M_TRIM_THRESHOLD, -1) == 1
    return ok_mmap and ok_trim


def cpu_malloc_mode(cfg: Mapping) -> str:
    """The ``cpu_malloc`` key of a config, checked (``'default'`` when absent).

    Args:
        cfg (Mapping): The config.

    Returns:
        str: One of :data:`CPU_MALLOC_MODES`.

    Raises:
        ValueError: The value is not one of them (the message names the key).
    """
    mode = cfg.get('cpu_malloc', 'default')
    if mode not in CPU_MALLOC_MODES:
        raise ValueError(f'cfg.cpu_malloc must be one of {CPU_MALLOC_MODES}, '
                         f'got {mode!r}')
    return mode


def apply_cpu_malloc(cfg: Mapping) -> bool:
    """Apply the config's ``cpu_malloc`` for a run without CUDA.

    Args:
        cfg (Mapping): The config (only ``cpu_malloc`` is read).

    Returns:
        bool: True if glibc now keeps freed memory.
    """
    if cpu_malloc_mode(cfg) != 'retain' or torch.cuda.is_available():
        return False
    return retain_freed_cpu_memory()
