"""Evaluation: per-task metrics, the multi-task metric and their pure functions."""
from . import functional
from .metrics import (
    BaseTaskMetric,
    DepthMetric,
    EdgeMetric,
    MultiTaskMetric,
    NormalsMetric,
    SaliencyMetric,
    SegMetric,
)

__all__ = [
    'functional', 'BaseTaskMetric', 'DepthMetric', 'EdgeMetric', 'MultiTaskMetric',
    'NormalsMetric', 'SaliencyMetric', 'SegMetric'
]
