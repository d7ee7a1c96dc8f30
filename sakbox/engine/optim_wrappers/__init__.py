"""Optimizer wrappers."""
from .autocast_optim_wrapper import (
                                     PRECISION_DTYPES,
                                     AutocastOptimWrapper,
                                     bf16_supported,
                                     resolve_precision,
)

__all__ = ['AutocastOptimWrapper', 'bf16_supported', 'PRECISION_DTYPES', 'resolve_precision']
