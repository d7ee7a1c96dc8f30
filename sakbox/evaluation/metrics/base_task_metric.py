"""Common machinery of the per-task metrics: reading ``pred_<task>`` / ``gt_<task>``.

Every task metric appends exactly **one small result per data sample** in
:meth:`BaseTaskMetric.process`, so MMEngine's ``collect_results`` can gather
the results of all ranks in dataset order and drop the duplicates a
distributed sampler pads the last batch with (``evaluate(size)`` truncates
to the dataset size). A result is never ``None``: ``collect_results`` drops
``None`` entries when it merges several ranks, and the truncation would then
keep a padded duplicate. Dataset scores are reduced order-independently
(integer counts, or correctly rounded float sums, see
:func:`~sakbox.evaluation.functional.exact_sum`), so they depend on the set
of samples only, not on how the samples were split over ranks.
"""
from abc import abstractmethod
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.structures import BaseDataElement


def sample_name(sample: Any) -> str:
    """A readable identifier of a data sample (its ``img_path`` or ``img_id``)."""
    getter = sample.get if isinstance(sample, dict) else (
        sample.metainfo.get if isinstance(sample, BaseDataElement) else None)
    if getter is None:
        return '<unknown sample>'
    name = getter('img_path', None)
    if name is None:
        name = getter('img_id', None)
    return str(name) if name is not None else '<sample without img_path>'


def get_field(sample: Any, key: str) -> np.ndarray:
    """Read ``sample[key]`` as a numpy array.

    Args:
        sample: A :class:`~sakbox.structures.MultiTaskDataSample` (or any data
            element) or the dict MMEngine's ``Evaluator`` turns it into.
        key: Field name, e.g. ``'pred_depth'``.

    Returns:
        np.ndarray: The field's data (``PixelData.data`` / ``{'data': ...}`` /
        a tensor / an array), on the CPU.
    """
    if isinstance(sample, dict):
        present = key in sample
        value = sample.get(key)
        keys = sorted(sample)
    else:
        present = key in sample
        value = getattr(sample, key, None) if present else None
        keys = sorted(sample.keys())
    if not present or value is None:
        raise KeyError(f'data sample {sample_name(sample)!r} has no field {key!r}; it has: '
                       f'{keys}')
    if isinstance(value, BaseDataElement):
        value = value.data if 'data' in value else value.values()[0]
    elif isinstance(value, dict):
        if 'data' not in value:
            raise KeyError(f'{key!r} of data sample {sample_name(sample)!r} has no "data" '
                           f'entry; it has: {sorted(value)}')
        value = value['data']
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype in (torch.bfloat16, torch.float16):
            value = value.float()
        return value.numpy()
    return np.asarray(value)


class BaseTaskMetric(BaseMetric):
    """Base of the metrics that compare ``pred_<task>`` with ``gt_<task>``.

    Subclasses implement :meth:`compute_sample` (per-image statistics, kept
    small) and :meth:`compute_metrics` (dataset scores, keys without the task
    prefix; MMEngine adds ``<prefix>/``, the task name by default).

    Args:
        task: Task name; data samples must have ``pred_<task>`` and ``gt_<task>``.
        channels: Expected channel count C of the (C, H, W) maps (None: any).
        collect_device: ``'cpu'`` or ``'gpu'``, how ranks exchange results.
        prefix: Metric-name prefix; defaults to ``task``.
        collect_dir: Directory for ``'cpu'`` collection (default: a temp dir).
    """
    channels: Optional[int] = 1

    def __init__(self, task: str, collect_device: str = 'cpu', prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        self.task = task
        super().__init__(collect_device=collect_device,
                         prefix=task if prefix is None else prefix,
                         collect_dir=collect_dir)

    # -- per sample ---------------------------------------------------------------------
    def read_pair(self, sample: Any) -> Tuple[np.ndarray, np.ndarray]:
        """Prediction and ground truth of one sample, shape-checked.

        Maps with a single channel come back as (H, W), others as (C, H, W).

        Raises:
            ValueError: Naming the sample and both shapes when they differ.
        """
        pred = get_field(sample, f'pred_{self.task}')
        gt = get_field(sample, f'gt_{self.task}')
        if pred.ndim == 3 and pred.shape[0] == 1:
            pred = pred[0]
        if gt.ndim == 3 and gt.shape[0] == 1:
            gt = gt[0]
        if pred.shape != gt.shape:
            raise ValueError(
                f'{self.task}: pred_{self.task} has shape {tuple(pred.shape)} but '
                f'gt_{self.task} has shape {tuple(gt.shape)} for sample '
                f'{sample_name(sample)!r}; predictions must be at the ground truth\'s size '
                '(ori_shape)')
        expected = 2 if self.channels == 1 else 3
        if pred.ndim != expected or (self.channels not in (None, 1)
                                     and pred.shape[0] != self.channels):
            want = '(H, W) or (1, H, W)' if self.channels == 1 else f'({self.channels}, H, W)'
            raise ValueError(f'{self.task}: expected {want} maps, got {tuple(pred.shape)} for '
                             f'sample {sample_name(sample)!r}')
        return pred, gt

    def sample_result(self, sample: Any) -> Any:
        """The per-image result of one data sample (what :meth:`process` stores)."""
        pred, gt = self.read_pair(sample)
        return self.compute_sample(pred, gt)

    @abstractmethod
    def compute_sample(self, pred: np.ndarray, gt: np.ndarray) -> Any:
        """Per-image statistics from (H, W) or (C, H, W) prediction and ground truth."""

    def resolve(self, result: Any) -> Any:
        """Turn a result stored by :meth:`sample_result` into its final value.

        Metrics that compute asynchronously (:class:`EdgeMetric`) return a
        pending handle from :meth:`sample_result`; this waits for it.
        """
        return result

    def release(self) -> None:
        """Free resources held between :meth:`process` and :meth:`evaluate`."""

    # -- MMEngine interface --------------------------------------------------------------
    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Store one result per data sample.

        Args:
            data_batch: The data batch (unused; everything is in the samples).
            data_samples: Model outputs: data samples or their dicts, with
                ``pred_<task>`` and ``gt_<task>``.
        """
        for sample in data_samples:
            self.results.append(self.sample_result(sample))

    def evaluate(self, size: int) -> Dict[str, Any]:
        """Finish pending per-image work, then gather and compute (see ``BaseMetric``)."""
        try:
            self.results = [self.resolve(r) for r in self.results]
        finally:
            self.release()
        return super().evaluate(size)

    @abstractmethod
    def compute_metrics(self, results: List[Any]) -> Dict[str, Any]:
        """Dataset scores from all per-image results (keys without prefix)."""
