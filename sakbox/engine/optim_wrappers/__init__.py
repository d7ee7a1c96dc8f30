"""Optimizer wrappers."""
from .autocast_optim_wrapper import AutocastOptimWrapper, bf16_supported

__all__ = ['AutocastOptimWrapper', 'bf16_supported']
