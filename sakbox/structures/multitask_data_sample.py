"""Data sample that carries every task's ground truth and prediction."""
from typing import Iterable, List

from mmengine.structures import BaseDataElement, PixelData

from .tasks import task_names


class MultiTaskDataSample(BaseDataElement):
    """A data sample for dense multi-task learning.

    Ground truth and predictions live in :class:`~mmengine.structures.PixelData`
    fields named ``gt_<task>`` / ``pred_<task>``; their ``.data`` is a tensor of
    shape (C, H, W). What each task's maps hold (kind, channels, pad / ignore
    values, prediction format) is its :class:`~sakbox.structures.tasks.TaskSpec`
    (:func:`~sakbox.structures.tasks.get_task`); the built-in ones
    (:mod:`sakbox.structures.builtin_tasks`) are:

    ============  ======================================  ==========================
    task          ``gt_<task>.data``                      ``pred_<task>.data``
    ============  ======================================  ==========================
    semseg        (1, H, W) int64, 255 = ignore           (1, H, W) int64 labels
    human_parts   (1, H, W) int64, 255 = ignore           (1, H, W) int64 labels
    depth         (1, H, W) float32 metres, <= 0 invalid  (1, H, W) float32 metres
    normals       (3, H, W) float32 unit, 0-vector inval. (3, H, W) float32 unit
    edge          (1, H, W) int64 0/1, 255 = ignore       (1, H, W) float32 in [0, 1]
    sal           (1, H, W) int64 0/1, 255 = ignore       (1, H, W) float32 in [0, 1]
    ============  ======================================  ==========================

    Metainfo keys: ``img_path``, ``img_id``, ``ori_shape``, ``img_shape``,
    ``pad_shape``, ``pad_offset``, ``flip``, ``flip_direction``,
    ``scale_factor``; after the data preprocessor also ``batch_input_shape``
    and ``batch_offset`` (padding geometry: :mod:`sakbox.structures.padding`).

    Works with MMEngine's ``pseudo_collate`` / ``default_collate`` and ``.to(device)``
    like every :class:`~mmengine.structures.BaseDataElement`.
    """

    def set_gt(self, task: str, data) -> None:
        """Set ``gt_<task>`` from a (C, H, W) tensor."""
        self.set_field(PixelData(data=data), f'gt_{task}', dtype=PixelData)

    def set_pred(self, task: str, data) -> None:
        """Set ``pred_<task>`` from a (C, H, W) tensor."""
        self.set_field(PixelData(data=data), f'pred_{task}', dtype=PixelData)

    def get_gt(self, task: str) -> PixelData:
        """Return ``gt_<task>``; raise a ``KeyError`` naming the sample if absent."""
        return self._get_pixel(f'gt_{task}')

    def get_pred(self, task: str) -> PixelData:
        """Return ``pred_<task>``; raise a ``KeyError`` naming the sample if absent."""
        return self._get_pixel(f'pred_{task}')

    def _get_pixel(self, key: str) -> PixelData:
        if key not in self:
            raise KeyError(
                f'data sample {self.metainfo.get("img_path", self.metainfo.get("img_id"))!r} '
                f'has no field {key!r}; it has: {sorted(self.keys())}')
        return getattr(self, key)

    @property
    def gt_tasks(self) -> List[str]:
        """Tasks that have a ``gt_<task>`` field, in canonical order (:func:`~sakbox.structures.tasks.task_names`)."""
        return _present(self.keys(), 'gt_')

    @property
    def pred_tasks(self) -> List[str]:
        """Tasks that have a ``pred_<task>`` field, in canonical order (:func:`~sakbox.structures.tasks.task_names`)."""
        return _present(self.keys(), 'pred_')


def _present(keys: Iterable[str], prefix: str) -> List[str]:
    keys, names = set(keys), task_names()
    known = [t for t in names if prefix + t in keys]
    extra = sorted(k[len(prefix):] for k in keys
                   if k.startswith(prefix) and k[len(prefix):] not in names)
    return known + extra
