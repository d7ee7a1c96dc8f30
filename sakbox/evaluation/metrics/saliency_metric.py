"""Saliency max F-measure (beta^2 = 0.3) and IoU."""
from typing import Any, Dict, List, Optional

import numpy as np

from sakbox.registry import METRICS

from ..functional import exact_sum, saliency_metrics, saliency_stats, saliency_thresholds
from .base_task_metric import BaseTaskMetric


@METRICS.register_module()
class SaliencyMetric(BaseTaskMetric):
    """Saliency metrics as the official SAK ``SaliencyMeter``.

    True/predicted/actual positive counts at thresholds 0.05 ... 0.95 are
    accumulated over the dataset; ``maxF`` is the best
    ``(1 + b2) P R / (b2 P + R)``. ``mIoU`` is the official one (per-image
    IoU averaged over images, best threshold); ``mIoU@0.5`` fixes the
    threshold at 0.5. All in percent.

    Args:
        beta_sq: beta squared of the F-measure.
        threshold_step: Step of the thresholds ``arange(step, 1, step)``.
        ignore_index: Ground-truth value that is skipped.
        task: Task name (``'sal'``).
        collect_device, prefix, collect_dir: See :class:`BaseTaskMetric`.
    """

    def __init__(self, beta_sq: float = 0.3, threshold_step: float = 0.05,
                 ignore_index: int = 255, task: str = 'sal', collect_device: str = 'cpu',
                 prefix: Optional[str] = None, collect_dir: Optional[str] = None) -> None:
        super().__init__(task, collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        self.beta_sq = beta_sq
        self.ignore_index = ignore_index
        self.thresholds = saliency_thresholds(threshold_step)

    def compute_sample(self, pred: np.ndarray, gt: np.ndarray) -> Any:
        """(3, T) counts and (T + 1,) IoUs of one image."""
        return saliency_stats(pred, gt, self.thresholds, self.ignore_index)

    def compute_metrics(self, results: List[Any]) -> Dict[str, float]:
        """maxF / mIoU / mIoU@0.5 from the per-image counts and IoUs."""
        t = self.thresholds.size
        counts = (exact_sum([r[0] for r in results]) if results
                  else np.zeros((3, t), dtype=np.int64))
        ious = (np.stack([r[1] for r in results]) if results
                else np.zeros((0, t + 1)))
        return saliency_metrics(counts, ious, self.beta_sq, self.thresholds)
