"""Depth RMSE (pooled over all valid pixels) and the usual extra depth metrics."""
from typing import Any, Dict, List, Optional

import numpy as np

from sakbox.registry import METRICS

from ..functional import depth_metrics, depth_stats, exact_sum
from .base_task_metric import BaseTaskMetric


@METRICS.register_module()
class DepthTaskMetric(BaseTaskMetric):
    """Depth metrics as the official SAK ``DepthMeter`` computes RMSE.

    Valid pixels: ``min_depth < gt < max_depth``; non-positive predictions
    become 1e-9. ``RMSE`` is ``sqrt(total squared error / total valid
    pixels)`` over the dataset; ``absRel``, ``sqRel``, ``log10``,
    ``RMSElog`` and ``delta1..3`` (percent) are pooled the same way.

    Args:
        min_depth: Exclusive lower bound of valid ground truth (metres).
        max_depth: Exclusive upper bound of valid ground truth (metres).
        task: Task name (``'depth'``).
        collect_device, prefix, collect_dir: See :class:`BaseTaskMetric`.
    """

    def __init__(self, min_depth: float = 0.0, max_depth: float = 80.0, task: str = 'depth',
                 collect_device: str = 'cpu', prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(task, collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        self.min_depth = min_depth
        self.max_depth = max_depth

    def compute_sample(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        """(9,) sums of one image (:data:`~..functional.DEPTH_STAT_NAMES`)."""
        return depth_stats(pred, gt, self.min_depth, self.max_depth)

    def compute_metrics(self, results: List[Any]) -> Dict[str, float]:
        """Dataset depth metrics from the summed per-image sums (order-independent)."""
        return depth_metrics(exact_sum(results) if results else np.zeros(9))
