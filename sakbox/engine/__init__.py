"""Engine: hooks, optimizer wrappers, atomic checkpoint backend."""
from . import atomic_backend, hooks, optim_wrappers  # noqa: F401
from .atomic_backend import AtomicLocalBackend
from .optim_wrappers import AutocastOptimWrapper

__all__ = ['AtomicLocalBackend', 'AutocastOptimWrapper', 'hooks']
