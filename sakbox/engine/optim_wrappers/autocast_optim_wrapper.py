"""Autocast optimizer wrapper that works on CPUs as well as GPUs."""
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from sakbox.registry import OPTIM_WRAPPERS


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
