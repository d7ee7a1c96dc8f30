"""How each task's ground-truth map behaves under geometric transforms.

The rules come from each task's :class:`~sakbox.structures.tasks.TaskSpec`.
Maps are resized with centre-aligned nearest neighbour
(``cv2.INTER_NEAREST_EXACT``: unlike ``INTER_NEAREST`` it samples the same
points as the bilinear image resize, so maps stay aligned with the image);
tasks with ``divide_by_zoom`` (depth) have their values divided by the zoom
factor. Maps are padded with the spec's ``pad_value`` (label maps 255, depth
and normals 0); tasks with ``flip_negates`` (normals) have a component negated
by flips (``MultiTaskRandomFlip``). Transforms find the maps through
``results['task_fields']``.
"""
from typing import Dict, Iterator, Tuple

import cv2
import numpy as np

from ...structures.tasks import TaskSpec, get_task, task_names

#: Pad value of the image.
IMG_PAD_VALUE = 0


def pad_values() -> Dict[str, float]:
    """Pad value of every map: ``img`` and each registered task."""
    return dict(img=IMG_PAD_VALUE, **{t: get_task(t).pad_value for t in task_names()})


def map_spec(task: str) -> TaskSpec:
    """The spec of a task map; a KeyError names the task and the known ones."""
    try:
        return get_task(task)
    except KeyError:
        raise KeyError(f'no transform rules for task {task!r}; known: '
                       f'{sorted(task_names())}') from None


def iter_task_maps(results: dict) -> Iterator[Tuple[str, str, np.ndarray]]:
    """Yield ``(task, key, map)`` for each loaded task map.

    Args:
        results: Pipeline results; tasks come from ``results['task_fields']``.

    Yields:
        tuple: The task name, its results key (``gt_<task>``) and the array.
    """
    for task in results.get('task_fields', ()):
        key = f'gt_{task}'
        if key not in results:
            raise KeyError(f'task {task!r} is listed in task_fields but results has no {key!r} '
                           f'(image {results.get("img_path")})')
        map_spec(task)
        yield task, key, results[key]


def resize_map(task: str, arr: np.ndarray, size_hw: Tuple[int, int],
               depth_scale: float = 1.0) -> np.ndarray:
    """Resize one task map to ``size_hw`` with nearest neighbour.

    Args:
        task: Task name.
        arr: (H, W) or (H, W, 3) map.
        size_hw: Target (H, W).
        depth_scale: Zoom factor; values of ``divide_by_zoom`` tasks (depth) are
            divided by it (zooming in by ``s`` makes the scene look ``s`` times closer).

    Returns:
        np.ndarray: The resized map, same dtype.
    """
    h, w = size_hw
    out = cv2.resize(arr, (w, h), interpolation=cv2.INTER_NEAREST_EXACT)
    if map_spec(task).divide_by_zoom and depth_scale != 1.0:
        out = out / np.float32(depth_scale)
    return out.astype(arr.dtype, copy=False)


def pad_map(arr: np.ndarray, size_hw: Tuple[int, int], value: float,
            offset: Tuple[int, int] = (0, 0)) -> np.ndarray:
    """Pad a (H, W[, C]) array to ``size_hw``, placing it at ``offset``.

    Args:
        arr: (h, w) or (h, w, C) array.
        size_hw: Target (H, W), at least (h, w) + ``offset``.
        value: Value of the padded pixels.
        offset: (top, left) of ``arr`` in the result; (0, 0) pads at the
            bottom and right.

    Returns:
        np.ndarray: (H, W[, C]) array, same dtype (``arr`` itself if no
        padding is needed).
    """
    h, w = arr.shape[:2]
    th, tw = size_hw
    if (h, w) == (th, tw):
        return arr
    top, left = offset
    if top + h > th or left + w > tw:
        raise ValueError(f'pad_map: a {h}x{w} map at ({top}, {left}) does not fit in {th}x{tw}')
    out = np.full((th, tw) + arr.shape[2:], value, dtype=arr.dtype)
    out[top:top + h, left:left + w] = arr
    return out
