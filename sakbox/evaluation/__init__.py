"""Evaluation: per-task metrics, the multi-task metric, their pure functions, and
classification evaluation of frozen embeddings (kNN, zero-shot)."""
from . import classification, functional
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
    'classification', 'functional', 'BaseTaskMetric', 'DepthMetric', 'EdgeMetric', 'MultiTaskMetric',
    'NormalsMetric', 'SaliencyMetric', 'SegMetric'
]
