"""Optimizer wrappers."""
from .autocast_optim_wrapper import (
    NATIVE_BF16_ENV,
    PRECISION_DTYPES,
    AutocastOptimWrapper,
    bf16_supported,
    cpu_has_native_bf16,
    resolve_precision,
)

__all__ = ['AutocastOptimWrapper', 'bf16_supported', 'cpu_has_native_bf16', 'NATIVE_BF16_ENV',
           'PRECISION_DTYPES', 'resolve_precision']
