"""Semantic segmentation / human-parts mIoU from a dataset-wide confusion count."""
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from sakbox.registry import METRICS

from ..functional import segmentation_areas, segmentation_metrics
from .base_task_metric import BaseTaskMetric


@METRICS.register_module()
class SegMetric(BaseTaskMetric):
    """mIoU of a label-map task (``semseg``, ``human_parts``), as the SAK meters.

    Per image it stores mmseg's per-class intersection / union / predicted /
    ground-truth areas ((4, K) integers); the dataset IoU of a class is
    ``sum(intersect) / sum(union)``. Reports ``mIoU``, ``aAcc``, ``mAcc``
    (percent), logs a per-class table and, with ``classwise=True``, adds
    ``IoU.<class name>`` keys.

    Args:
        task: ``'semseg'`` or ``'human_parts'`` (any label-map task).
        num_classes: Number of classes K; None takes it from the dataset
            meta (``task_channels[task]``, or the length of
            ``<task>_classes`` / ``classes``).
        ignore_index: Ground-truth label that is skipped.
        absent_class_iou: ``'zero'`` (official SAK: a class absent from
            ground truth and prediction counts as IoU 0 in the mean) or
            ``'ignore'`` (mmseg: left out of the mean).
        skip_background_only: Skip images whose valid ground truth is only
            label 0. The official PASCAL-Context pipeline ignores human-parts
            maps without a person this way (``AddIgnoreRegions``).
        classwise: Also return per-class IoU keys.
        collect_device, prefix, collect_dir: See :class:`BaseTaskMetric`.
    """

    def __init__(self, task: str = 'semseg', num_classes: Optional[int] = None,
                 ignore_index: int = 255, absent_class_iou: str = 'zero',
                 skip_background_only: bool = False, classwise: bool = False,
                 collect_device: str = 'cpu', prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(task, collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        if absent_class_iou not in ('zero', 'ignore'):
            raise ValueError(f"absent_class_iou must be 'zero' or 'ignore', got "
                             f'{absent_class_iou!r}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.absent_class_iou = absent_class_iou
        self.skip_background_only = skip_background_only
        self.classwise = classwise

    def _class_names(self) -> Optional[Sequence[str]]:
        meta = self.dataset_meta or {}
        names = meta.get(f'{self.task}_classes')
        if names is None and self.task == 'semseg':
            names = meta.get('classes')
        return names

    def _resolve_num_classes(self) -> int:
        if self.num_classes is None:
            meta = self.dataset_meta or {}
            channels = (meta.get('task_channels') or {}).get(self.task)
            names = self._class_names()
            if channels is not None:
                self.num_classes = int(channels)
            elif names is not None:
                self.num_classes = len(names)
            else:
                raise ValueError(
                    f'{type(self).__name__}({self.task!r}): num_classes is not set and the '
                    f'dataset meta has neither task_channels[{self.task!r}] nor class names; '
                    'give num_classes')
        return self.num_classes

    def compute_sample(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        """(4, K) areas of one image; all zeros for a skipped image.

        A skipped image must still store a result, and not None: MMEngine's
        ``collect_results`` drops None entries when it merges the ranks' parts
        (but not in a single process), which shifts the merged list so that
        truncating it to the dataset size keeps a sampler-padded duplicate.
        Zero areas add nothing to the dataset sums, exactly like skipping.
        """
        num_classes = self._resolve_num_classes()
        if self.skip_background_only:
            valid = gt[gt != self.ignore_index]
            if not (valid != 0).any():
                return np.zeros((4, num_classes), dtype=np.int64)
        return segmentation_areas(pred, gt, num_classes, self.ignore_index)

    def compute_metrics(self, results: List[Any]) -> Dict[str, Any]:
        """mIoU / aAcc / mAcc (+ per-class IoU) from the per-image areas."""
        num_classes = self._resolve_num_classes()
        total = (np.sum(results, axis=0, dtype=np.int64) if results
                 else np.zeros((4, num_classes), dtype=np.int64))
        names = self._class_names()
        if names is not None and len(names) != num_classes:
            names = None
        out = segmentation_metrics(total, self.absent_class_iou, names)
        self._log_table(out)
        metrics: Dict[str, Any] = dict(mIoU=out['mIoU'], aAcc=out['aAcc'], mAcc=out['mAcc'])
        if self.classwise:
            metrics.update({f'IoU.{n}': float(v) for n, v in zip(out['classes'], out['IoU'])})
        return metrics

    def _log_table(self, out: Dict[str, Any]) -> None:
        width = max(len(str(n)) for n in out['classes'])
        lines = [f'per-class IoU of {self.task} ({len(out["classes"])} classes):']
        lines += [f'  {str(n):<{width}}  {v:6.2f}' for n, v in zip(out['classes'], out['IoU'])]
        print_log('\n'.join(lines), logger='current')
