"""Evaluation."""
from . import metrics  # noqa: F401

__all__ = ['metrics']
