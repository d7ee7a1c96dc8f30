"""Engine: hooks, runner helpers."""
from . import hooks  # noqa: F401

__all__ = ['hooks']
