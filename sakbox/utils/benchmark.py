"""Measurement helpers shared by the benchmark tools (``tools/analysis_tools/benchmark_*.py``).

Everything here measures, nothing estimates: FLOPs come from
``torch.utils.flop_counter.FlopCounterMode`` running the real computation (a
multiply-add = 2 FLOPs), the GEMM peak from square matmuls timed in the calling
process, memory from the OS (CPU) or the CUDA caching allocator.
"""
import contextlib
import math
import re
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

_PROC_STATUS = '/proc/self/status'
_PROC_CLEAR_REFS = '/proc/self/clear_refs'


def _as_4d(shape) -> tuple:
    """(B, H, N, D) of an attention operand's shape ((B, N, D) gets H = 1)."""
    shape = tuple(shape)
    return (1, ) * (4 - len(shape)) + shape


def _cpu_flash_attention_flops(query, key, value, *args, **kwargs) -> int:
    """FLOPs of ``aten._scaled_dot_product_flash_attention_for_cpu`` (shapes in)."""
    return sdpa_flop_count(_as_4d(query), _as_4d(key), _as_4d(value))


def _cpu_flash_attention_backward_flops(grad_out, query, key, value, *args, **kwargs) -> int:
    """FLOPs of ``aten._scaled_dot_product_flash_attention_for_cpu_backward``."""
    return sdpa_backward_flop_count(_as_4d(grad_out), _as_4d(query), _as_4d(key),
                                    _as_4d(value))


def _cpu_attention_flop_formulas() -> dict:
    """Formulas for the CPU fused-attention kernels, which torch's counter does not know.

    torch counts the CUDA flash / efficient / cuDNN attention kernels but not the CPU
    flash kernel that ``scaled_dot_product_attention`` dispatches to on the CPU, so
    without these a CPU count leaves out every attention's matrix work (and differs
    from the CUDA count of the same step). The formulas are torch's own SDPA ones.
    """
    ops = torch.ops.aten
    formulas = {}
    for name, formula in (('_scaled_dot_product_flash_attention_for_cpu',
                           _cpu_flash_attention_flops),
                          ('_scaled_dot_product_flash_attention_for_cpu_backward',
                           _cpu_flash_attention_backward_flops)):
        if hasattr(ops, name):
            formulas[getattr(ops, name)] = formula
    return formulas


def flop_counter() -> FlopCounterMode:
    """A ``FlopCounterMode`` (no display) that also counts the CPU fused attention.

    Every benchmark tool counts with this, so CPU and CUDA counts of the same work
    agree.

    Returns:
        FlopCounterMode: The counter, to be used as a context manager.
    """
    return FlopCounterMode(display=False, custom_mapping=_cpu_attention_flop_formulas())


def synchronize(device: Union[str, torch.device]) -> None:
    """Wait for the queued work of ``device`` (no-op on the CPU)."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _time_matmul(a: torch.Tensor, b: torch.Tensor, repeat: int) -> float:
    """Fastest of ``repeat`` timed ``a @ b`` (seconds)."""
    best = math.inf
    for _ in range(max(1, repeat)):
        synchronize(a.device)
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(a.device)
        best = min(best, time.perf_counter() - start)
    return best


def measure_gemm_peak(dtype: torch.dtype = torch.float32,
                      device: Union[str, torch.device] = 'cpu',
                      n: int = 2048,
                      repeat: int = 3,
                      max_seconds: Optional[float] = 20.0) -> Dict[str, float]:
    """Measure the matmul throughput of ``dtype`` on ``device`` in this process.

    Times ``repeat`` square ``n x n @ n x n`` matmuls (after one untimed
    call) and keeps the fastest: ``2 n^3 / t``. This is the roof that achieved
    FLOP/s are divided by, measured with the same threads and precision as the
    workload. When ``max_seconds`` is set and a small probe predicts that the
    ``n`` matmuls would take longer (e.g. bf16 on a CPU without native bf16,
    which runs ~100x slower than fp32), ``n`` is halved until they fit; the
    size actually used is returned.

    Args:
        dtype (torch.dtype): Element type of both operands.
        device (str | torch.device): Where to run.
        n (int): Matrix size. Default: 2048.
        repeat (int): Timed calls. Default: 3.
        max_seconds (float, optional): Time budget of the timed calls; None
            always uses ``n``.

    Returns:
        Dict[str, float]: ``flops_per_s`` (the peak), ``n`` (size used) and
        ``seconds`` (fastest call).
    """
    if n < 1 or repeat < 1:
        raise ValueError(f'measure_gemm_peak: n={n} and repeat={repeat} must be positive')
    device = torch.device(device)
    if max_seconds is not None:
        probe = min(n, 512)
        a = torch.randn(probe, probe, device=device).to(dtype)
        torch.mm(a, a)
        rate = 2 * probe ** 3 / max(_time_matmul(a, a, 1), 1e-9)
        # Larger matrices run at least as fast as the probe: a safe over-estimate.
        while n > probe and (repeat + 1) * 2 * n ** 3 / rate > max_seconds:
            n //= 2
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    torch.mm(a, b)  # warm-up: thread pool, kernel selection, page faults
    seconds = _time_matmul(a, b, repeat)
    return dict(flops_per_s=2.0 * n ** 3 / seconds, n=float(n), seconds=seconds)


@contextlib.contextmanager
def full_precision_step(model: torch.nn.Module, optim_wrapper=None):
    """Run a train/forward step in fp32: for counting its FLOPs.

    FLOPs are counted from the shapes of the operations, so a step counts the
    same in every precision; but ``FlopCounterMode`` cannot follow every op
    under autocast: inside ``torch.inference_mode`` (where the teachers run)
    it decomposes ``einsum`` (timm SAM's relative-position bias) itself,
    below the autocast layer, into a ``bmm`` of a bf16 and an fp32 operand
    that fails with ``expected scalar type Float but found BFloat16``. So
    the counting step runs with the teachers in fp32 (``teacher_precision``)
    and the optimizer wrapper's autocast switched off; the timed steps keep
    the precision under test. Both are restored on exit.

    Args:
        model (nn.Module): The model (its ``teacher_precision`` is set to
            ``'fp32'`` while inside, when it has one).
        optim_wrapper (OptimWrapper, optional): Its optimizer wrapper; an
            autocast wrapper's ``optim_context`` is replaced by the plain
            :class:`~mmengine.optim.OptimWrapper` one while inside.

    Yields:
        None
    """
    from mmengine.optim import OptimWrapper
    saved_precision = getattr(model, 'teacher_precision', None)
    if saved_precision is not None:
        model.teacher_precision = 'fp32'
    patched = optim_wrapper is not None and 'optim_context' not in vars(optim_wrapper)
    if patched:
        optim_wrapper.optim_context = OptimWrapper.optim_context.__get__(optim_wrapper)
    try:
        yield
    finally:
        if saved_precision is not None:
            model.teacher_precision = saved_precision
        if patched:
            del optim_wrapper.optim_context


def _total_outputs(out) -> torch.Tensor:
    """Sum of every floating tensor that requires grad in ``out`` (a scalar to backprop)."""
    if isinstance(out, torch.Tensor):
        tensors = [out]
    elif isinstance(out, dict):
        tensors = [v for v in out.values() if isinstance(v, torch.Tensor)]
    else:
        tensors = [v for v in out if isinstance(v, torch.Tensor)]
    tensors = [t for t in tensors if t.requires_grad]
    if not tensors:
        raise ValueError('count_flops(backward=True): the callable returned no tensor that '
                         'requires grad')
    return sum(t.float().sum() for t in tensors)


def count_flops(fn: Callable, *args, backward: bool = False, **kwargs) -> Dict[str, float]:
    """FLOPs of one call of ``fn(*args, **kwargs)``, optionally with its backward.

    Counted by ``FlopCounterMode`` (matmuls, convolutions, attention; a
    multiply-add is 2 FLOPs). With ``backward=True`` the sum of the outputs
    that require grad is back-propagated inside the same counter; gradients
    accumulate into the parameters' ``.grad`` as in a real step.

    Args:
        fn (Callable): The computation.
        *args: Positional arguments of ``fn``.
        backward (bool): Also count the backward pass.
        **kwargs: Keyword arguments of ``fn``.

    Returns:
        Dict[str, float]: ``forward``, ``backward`` (0 without) and ``total``.
    """
    counter = flop_counter()
    with counter:
        out = fn(*args, **kwargs)
        forward = float(counter.get_total_flops())
        if backward:
            _total_outputs(out).backward()
        total = float(counter.get_total_flops())
    return dict(forward=forward, backward=total - forward, total=total)


def count_params(module: torch.nn.Module) -> int:
    """Number of parameters of ``module`` (trainable or not)."""
    return sum(p.numel() for p in module.parameters())


def time_calls(fn: Callable, *args, repeat: int = 3, warmup: int = 1,
               device: Union[str, torch.device] = 'cpu') -> List[float]:
    """Wall time (ms) of each of ``repeat`` calls of ``fn(*args)`` after ``warmup`` untimed ones.

    The device is synchronised around every timed call, so queued CUDA work
    is counted where it runs.

    Args:
        fn (Callable): The computation.
        *args: Its arguments.
        repeat (int): Timed calls (at least one is made).
        warmup (int): Untimed calls first.
        device (str | torch.device): The device to synchronise.

    Returns:
        List[float]: Milliseconds of each timed call.
    """
    for _ in range(warmup):
        fn(*args)
    times = []
    for _ in range(max(1, repeat)):
        synchronize(device)
        start = time.perf_counter()
        fn(*args)
        synchronize(device)
        times.append((time.perf_counter() - start) * 1000)
    return times


def measure_forward(fn: Callable[[torch.Tensor], object], x: torch.Tensor, repeat: int = 3,
                    warmup: int = 1, dtype: Optional[torch.dtype] = None,
                    flops_input: Optional[torch.Tensor] = None) -> Dict[str, float]:
    """FLOPs of one call, median latency and peak memory of ``fn(x)`` under ``no_grad``.

    FLOPs are counted by :func:`count_flops` in fp32 on ``flops_input``
    (default ``x``): the count depends only on the shapes, and the counter
    cannot follow every op under autocast (see :func:`full_precision_step`).
    The timed calls run under ``torch.autocast`` in ``dtype``; the peak-memory
    window (:func:`reset_peak_memory`) opens after the warm-up.

    Args:
        fn (Callable): The network's forward.
        x (Tensor): Its (B, 3, H, W) input.
        repeat (int): Timed calls (median kept).
        warmup (int): Untimed calls before timing.
        dtype (torch.dtype, optional): Autocast dtype; None or ``torch.float32``
            runs plain fp32.
        flops_input (Tensor, optional): The input FLOPs are counted on, e.g.
            ``x[:1]`` for FLOPs per image.

    Returns:
        Dict[str, float]: ``flops`` (one call on ``flops_input``), ``ms`` (median
        of the timed calls) and ``peak_memory_bytes`` (None where unknown).
    """
    device = x.device
    amp = (torch.autocast(device_type=device.type, dtype=dtype)
           if dtype is not None and dtype != torch.float32 else contextlib.nullcontext())
    with torch.no_grad():
        flops = count_flops(fn, x if flops_input is None else flops_input)['forward']
    with torch.no_grad(), amp:
        for _ in range(warmup):
            fn(x)
        reset_peak_memory(device)
        times = time_calls(fn, x, repeat=repeat, warmup=0, device=device)
    return dict(flops=flops, ms=statistics.median(times),
                peak_memory_bytes=peak_memory_bytes(device))


def plain_vit_forward(vit: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """Patch embed + position embedding + blocks of a timm ViT (no norm / head).

    The input is zero-padded bottom/right to a multiple of the patch size.

    Args:
        vit (nn.Module): A timm ``VisionTransformer``.

    Returns:
        Callable: ``(B, 3, H, W) -> (B, N, C)`` tokens after the last block.
    """
    def run(x: torch.Tensor) -> torch.Tensor:
        ph, pw = vit.patch_embed.patch_size
        pad_h, pad_w = (-x.shape[2]) % ph, (-x.shape[3]) % pw
        if pad_h or pad_w:
            x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h))
        x = vit.norm_pre(vit._pos_embed(vit.patch_embed(x)))
        for blk in vit.blocks:
            x = blk(x)
        return x
    return run


def _read_status_kb(key: str) -> Optional[int]:
    try:
        with open(_PROC_STATUS) as f:
            match = re.search(rf'^{key}:\s+(\d+)\s*kB', f.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def resident_bytes() -> Optional[int]:
    """The current resident set (``VmRSS``) of this process in bytes; None where unknown."""
    kb = _read_status_kb('VmRSS')
    return None if kb is None else kb * 1024


def reset_peak_memory(device: Union[str, torch.device] = 'cpu') -> bool:
    """Start a new peak-memory window.

    CPU: writes ``5`` to ``/proc/self/clear_refs``, which resets the resident
    high-water mark ``VmHWM`` (Linux >= 4.0). CUDA: resets the allocator's
    peak statistics.

    Args:
        device (str | torch.device): The device whose peak is tracked.

    Returns:
        bool: True if the peak was reset; False where the OS does not allow it
        (the peak then counts from process start).
    """
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        return True
    try:
        with open(_PROC_CLEAR_REFS, 'w') as f:
            f.write('5')
    except OSError:
        return False
    return True


def peak_memory_bytes(device: Union[str, torch.device] = 'cpu') -> Optional[int]:
    """Peak memory since the last :func:`reset_peak_memory` (or process start).

    CPU: the process's peak resident set (``VmHWM`` of ``/proc/self/status``,
    else ``resource.getrusage`` ``ru_maxrss``), which includes the Python
    interpreter and the libraries. CUDA: ``torch.cuda.max_memory_allocated``.

    Args:
        device (str | torch.device): The device.

    Returns:
        int, optional: Bytes; None when no source is available.
    """
    device = torch.device(device)
    if device.type == 'cuda':
        return int(torch.cuda.max_memory_allocated(device))
    kb = _read_status_kb('VmHWM')
    if kb is not None:
        return kb * 1024
    try:
        import resource
    except ImportError:  # not a Unix
        return None
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]],
                 float_fmt: str = '.3g') -> str:
    """Render rows as a plain-text table with right-aligned columns.

    Args:
        headers (Sequence[str]): Column titles.
        rows (Sequence[Sequence[object]]): One sequence per row, as long as ``headers``;
            floats are formatted with ``float_fmt``, None prints as ``-``.
        float_fmt (str): Format spec of floats.

    Returns:
        str: The table (no trailing newline).
    """
    def cell(v: object) -> str:
        if v is None:
            return '-'
        if isinstance(v, float):
            return format(v, float_fmt)
        return str(v)

    table: List[List[str]] = [list(map(str, headers))]
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f'format_table: row {i} has {len(row)} cells, expected '
                             f'{len(headers)} ({list(headers)})')
        table.append([cell(v) for v in row])
    widths = [max(len(r[c]) for r in table) for c in range(len(headers))]
    lines = []
    for j, r in enumerate(table):
        first = r[0].ljust(widths[0])
        lines.append('  '.join([first] + [v.rjust(w) for v, w in zip(r[1:], widths[1:])]))
        if j == 0:
            lines.append('  '.join('-' * w for w in widths))
    return '\n'.join(lines)
