"""Datasets and transforms."""
from . import transforms  # noqa: F401

__all__ = ['transforms']
