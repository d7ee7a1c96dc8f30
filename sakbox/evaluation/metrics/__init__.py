"""Task metrics and the multi-task metric (registered in ``sakbox.registry.METRICS``)."""
from .base_task_metric import BaseTaskMetric, get_field
from .depth_metric import DepthTaskMetric
from .edge_metric import EdgeMetric
from .multitask_metric import MultiTaskMetric
from .normals_metric import NormalsMetric
from .saliency_metric import SaliencyMetric
from .seg_metric import SegMetric

__all__ = [
    'BaseTaskMetric', 'get_field', 'DepthTaskMetric', 'EdgeMetric', 'MultiTaskMetric',
    'NormalsMetric', 'SaliencyMetric', 'SegMetric'
]
