"""Precision names and whether bf16 is native on a device (CPU flags, CUDA driver).

Used by the autocast optimizer wrapper, the distillers' teacher precision and
teacher-feature extraction alike.
"""
import os

import torch

#: Precision names accepted across sakbox (teachers, feature extraction) -> compute dtype.
PRECISION_DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def resolve_precision(precision: str, device_type: str) -> torch.dtype:
    """The dtype a precision name means on ``device_type``.

    Args:
        precision: ``'auto'`` (bf16 where the device does bf16 matrix work natively,
            see :func:`bf16_supported`; fp32 elsewhere), ``'bf16'``, ``'fp16'`` or ``'fp32'``.
        device_type: ``'cpu'`` or ``'cuda'``.

    Returns:
        torch.dtype: The compute dtype (``torch.float32`` = no autocast).
    """
    if precision == 'auto':
        return torch.bfloat16 if bf16_supported(device_type) else torch.float32
    if precision not in PRECISION_DTYPES:
        raise ValueError(f"precision must be 'auto' or one of {sorted(PRECISION_DTYPES)}, "
                         f'got {precision!r}')
    return PRECISION_DTYPES[precision]


#: Environment variable that overrides the CPU bf16 detection: ``1`` (native, so
#: ``'auto'`` means bf16) or ``0`` (emulated, so ``'auto'`` means fp32). The test
#: suite uses it to check the AVX512-BF16/AMX behaviour on AVX2-only hosts and back.
NATIVE_BF16_ENV = 'SAKBOX_NATIVE_BF16'


def bf16_supported(device_type: str) -> bool:
    """Whether bf16 autocast gives real speed on ``device_type``.

    On CUDA this asks the driver; on CPU it looks for AMX or AVX512-BF16 in
    ``/proc/cpuinfo`` (without them bf16 autocast runs but is slow), unless
    ``SAKBOX_NATIVE_BF16`` is ``1`` or ``0``.

    Args:
        device_type: ``'cuda'`` or ``'cpu'``.

    Returns:
        bool: True if bf16 matrix work is native on the device.

    Raises:
        ValueError: ``SAKBOX_NATIVE_BF16`` is set to something else than 0 or 1.
    """
    if device_type == 'cuda':
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    forced = os.environ.get(NATIVE_BF16_ENV, '').strip()
    if forced:
        if forced not in ('0', '1'):
            raise ValueError(f'{NATIVE_BF16_ENV} must be 0 or 1 (or unset to detect), '
                             f'got {forced!r}')
        return forced == '1'
    return cpu_has_native_bf16()


def cpu_has_native_bf16() -> bool:
    """Whether ``/proc/cpuinfo`` lists AMX-BF16 or AVX512-BF16 (no override)."""
    try:
        with open('/proc/cpuinfo') as f:
            flags = f.read()
    except OSError:
        return False
    return 'amx_bf16' in flags or 'avx512_bf16' in flags
