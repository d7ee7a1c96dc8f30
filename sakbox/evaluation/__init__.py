"""Evaluation: per-task metrics, the multi-task metric, their pure functions, and
classification evaluation of frozen embeddings (kNN, zero-shot)."""
from . import classification, functional
from .metrics import (
    BaseTaskMetric,
    DepthTaskMetric,
    EdgeMetric,
    MultiTaskMetric,
    NormalsMetric,
    SaliencyMetric,
    SegMetric,
)

__all__ = [
    'classification', 'functional', 'BaseTaskMetric', 'DepthTaskMetric', 'EdgeMetric', 'MultiTaskMetric',
    'NormalsMetric', 'SaliencyMetric', 'SegMetric'
]
