"""Final steps of a pipeline: canonical ignore regions, then packing into a data sample."""
from typing import Callable, Dict, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from ...registry import TRANSFORMS
from ...structures.multitask_data_sample import MultiTaskDataSample
from ...structures.tasks import TaskSpec
from .task_maps import iter_task_maps, map_spec


def _zero_invalid_vectors(arr: np.ndarray, spec: TaskSpec) -> np.ndarray:
    sq = np.einsum('...i,...i->...', arr, arr)
    bad = ~((sq >= 1e-12) & (sq < np.inf))  # NaN fails both comparisons
    if bad.any():
        arr = arr.copy()
        arr[bad] = 0
    return arr


def _zero_nonpositive(arr: np.ndarray, spec: TaskSpec) -> np.ndarray:
    bad = ~((arr > 0) & (arr < np.inf))
    if bad.any():
        arr = np.where(bad, np.float32(0), arr).astype(np.float32)
    return arr


def _ignore_background_only(arr: np.ndarray, spec: TaskSpec) -> np.ndarray:
    if ((arr == 0) | (arr == spec.ignore_value)).all():
        arr = np.full_like(arr, spec.ignore_value)
    return arr


#: ``TaskSpec.invalid_rule`` -> function ``(map, spec) -> map`` (``'none'``: unchanged).
INVALID_RULE_FUNCS: Dict[str, Callable[[np.ndarray, TaskSpec], np.ndarray]] = dict(
    zero_vector=_zero_invalid_vectors, nonpositive=_zero_nonpositive,
    background_only=_ignore_background_only)


@TRANSFORMS.register_module()
class AddIgnoreRegions(BaseTransform):
    """Put every invalid region into its canonical form (``TaskSpec.invalid_rule``).

    * ``'zero_vector'`` (normals): zero-length (or non-finite) vectors become
      exactly 0 (invalid);
    * ``'nonpositive'`` (depth): values ``<= 0`` or non-finite become 0 (invalid);
    * ``'background_only'`` (human_parts): a map with no part (only background
      0 and 255) becomes all 255, so images without annotated people do not
      teach "no person".

    Run it after the geometric transforms (a crop can remove every person).
    """

    def transform(self, results: dict) -> dict:
        """Apply the rules above.

        Args:
            results: Pipeline results.

        Returns:
            dict: ``results`` with fixed maps.
        """
        for task, key, arr in iter_task_maps(results):
            spec = map_spec(task)
            rule = INVALID_RULE_FUNCS.get(spec.invalid_rule)
            results[key] = arr if rule is None else rule(arr, spec)
        return results


@TRANSFORMS.register_module()
class PackMultiTaskInputs(BaseTransform):
    """Pack the image and the task maps into ``dict(inputs, data_samples)``.

    ``inputs`` is the image as a (3, H, W) tensor (uint8 BGR when loaded by
    ``LoadImageFromFile``); ``data_samples`` is a
    :class:`~sakbox.structures.MultiTaskDataSample` with one ``gt_<task>``
    :class:`~mmengine.structures.PixelData` per task in ``task_fields``:
    label tasks (1, H, W) int64, float tasks (C, H, W) float32 (depth
    (1, H, W), normals (3, H, W)), following each task's ``TaskSpec``. A
    ``gt_label`` in the results (labelled image lists) goes into
    the metainfo as an int (not a data field, so it is never taken for a task).

    Args:
        meta_keys: Keys copied into the metainfo when present. ``pad_shape``
            (default ``img_shape``), ``pad_offset`` ((0, 0): where ``img_shape``
            starts in the packed image, see ``MultiTaskPad``), ``flip``
            (False), ``flip_direction`` (None) and ``scale_factor``
            ((1.0, 1.0)) are always set.
    """

    DEFAULT_META_KEYS = ('img_path', 'img_id', 'ori_shape', 'img_shape', 'pad_shape',
                         'pad_offset', 'flip', 'flip_direction', 'scale_factor')

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack.

        Args:
            results: Pipeline results.

        Returns:
            dict: ``inputs`` (3, H, W) tensor and ``data_samples``.
        """
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = MultiTaskDataSample()
        for task, _, arr in iter_task_maps(results):
            if arr.shape[:2] != img.shape[:2]:
                raise ValueError(f'gt_{task} is {arr.shape[:2]} but the image is '
                                 f'{img.shape[:2]} ({results.get("img_path")}); a transform '
                                 'lost the alignment')
            spec = map_spec(task)
            if spec.channels > 1:  # (H, W, C) vector maps such as normals
                data = torch.from_numpy(np.ascontiguousarray(
                    arr.transpose(2, 0, 1), dtype=np.int64 if spec.is_label else np.float32))
            elif spec.is_label:
                data = torch.from_numpy(arr.astype(np.int64)[None])
            else:  # depth and other 1-channel float maps
                data = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)[None])
            sample.set_gt(task, data)
        meta = dict(pad_shape=tuple(results.get('img_shape', img.shape[:2])),
                    pad_offset=(0, 0), flip=False, flip_direction=None,
                    scale_factor=(1.0, 1.0))
        meta.update({k: results[k] for k in self.meta_keys if k in results})
        if 'gt_label' in results:
            meta['gt_label'] = int(results['gt_label'])
        for key in ('ori_shape', 'img_shape', 'pad_shape', 'pad_offset'):
            if key in meta:
                meta[key] = tuple(int(v) for v in meta[key][:2])
        sample.set_metainfo(meta)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
