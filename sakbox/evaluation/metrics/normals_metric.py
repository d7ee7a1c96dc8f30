"""Surface-normal angular error (mean, median, RMS, within 11.25 / 22.5 / 30 degrees)."""
from typing import Any, Dict, List, Optional

import numpy as np

from sakbox.registry import METRICS

from ..functional import exact_sum, normals_metrics, normals_stats
from .base_task_metric import BaseTaskMetric


@METRICS.register_module()
class NormalsMetric(BaseTaskMetric):
    """Angular error of predicted normals, as the official SAK ``NormalsMeter``.

    Both vectors are normalised, the error is ``2 * atan2(|p - g|, |p + g|)``
    in degrees, ground-truth zero vectors are ignored and the mean (``mErr``)
    is pooled over all valid pixels. ``medErr`` comes from per-image
    histograms of ``bin_width`` degrees (exact to within one bin).

    Args:
        bin_width: Histogram bin width in degrees for the median.
        task: Task name (``'normals'``).
        collect_device, prefix, collect_dir: See :class:`BaseTaskMetric`.
    """
    channels = 3

    def __init__(self, bin_width: float = 0.05, task: str = 'normals',
                 collect_device: str = 'cpu', prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(task, collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        self.bin_width = bin_width

    def compute_sample(self, pred: np.ndarray, gt: np.ndarray) -> Any:
        """(6,) sums and an error histogram of one image."""
        stats, hist = normals_stats(pred, gt, self.bin_width)
        return stats, hist.astype(np.int32)

    def compute_metrics(self, results: List[Any]) -> Dict[str, float]:
        """Dataset normal metrics from the summed sums and histograms (order-independent)."""
        num_bins = int(np.ceil(180.0 / self.bin_width))
        total = exact_sum([r[0] for r in results]) if results else np.zeros(6)
        hist = (exact_sum([r[1] for r in results]) if results
                else np.zeros(num_bins, dtype=np.int64))
        return normals_metrics(total, hist, self.bin_width)
