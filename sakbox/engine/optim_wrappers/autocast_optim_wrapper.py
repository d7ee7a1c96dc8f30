"""Autocast optimizer wrapper that works on CPUs as well as GPUs."""
import os
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from sakbox.registry import OPTIM_WRAPPERS

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


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """Run the forward pass under ``torch.autocast`` without a loss scaler.

    MMEngine's ``AmpOptimWrapper`` requires CUDA (it builds a CUDA
    ``GradScaler``). bf16 has fp32's exponent range, so it needs no loss
    scaling and this wrapper only enters the autocast context. Use
    ``AmpOptimWrapper`` for fp16 with loss scaling on CUDA.

    Args:
        dtype: Autocast dtype, ``'bfloat16'`` (default) or ``'float16'``.
        device_type: ``'cpu'``, ``'cuda'`` or None to use the model's device.
        **kwargs: Passed to :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 device_type: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(dtype, str):
            if dtype not in ('bfloat16', 'float16'):
                raise ValueError(f'AutocastOptimWrapper dtype must be "bfloat16" or '
                                 f'"float16", got {dtype!r}')
            dtype = getattr(torch, dtype)
        self.cast_dtype = dtype
        self.device_type = device_type

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Enter the accumulate-grad context and autocast."""
        device_type = self.device_type
        if device_type is None:
            param = next(model.parameters(), None)
            device_type = param.device.type if param is not None else 'cpu'
        with super().optim_context(model), torch.autocast(
                device_type=device_type, dtype=self.cast_dtype):
            yield
