"""Load every task's annotation of a sample (images load with mmcv's ``LoadImageFromFile``)."""
import functools
import inspect
from typing import Callable, Optional, Sequence

from mmcv.transforms import BaseTransform

from ...registry import TRANSFORMS
from ..readers import READERS, AnnotationError


@functools.lru_cache(maxsize=None)
def _takes_shape(reader: Callable) -> bool:
    """Whether a reader wants the image size (e.g. to size an empty part map)."""
    return 'shape' in inspect.signature(reader).parameters


@TRANSFORMS.register_module()
class LoadMultiTaskAnnotations(BaseTransform):
    """Decode the files in ``results['ann_info']`` into ``results['gt_<task>']``.

    Each ``ann_info[task]`` is ``dict(reader=name, path=..., **args)``; the
    reader comes from :data:`sakbox.datasets.readers.READERS`. Maps follow the
    data contract (``docs/architecture.md``). Put it after
    ``LoadImageFromFile``: every map is checked against the image size.

    Required keys: ``ann_info`` (and ``img_shape`` for the size check).
    Added keys: ``gt_<task>`` for each task, ``task_fields``.

    Args:
        tasks: Tasks to load (default: every task in ``ann_info``). Asking for a
            task the sample has no annotation for is an error.
    """

    def __init__(self, tasks: Optional[Sequence[str]] = None) -> None:
        self.tasks = None if tasks is None else list(tasks)

    def transform(self, results: dict) -> dict:
        """Load the maps.

        Args:
            results: Pipeline results.

        Returns:
            dict: ``results`` with the ``gt_<task>`` maps and ``task_fields``.
        """
        ann_info = results.get('ann_info', {})
        tasks = list(ann_info) if self.tasks is None else self.tasks
        name = results.get('img_id', results.get('img_path'))
        img_shape = results.get('img_shape')
        for task in tasks:
            if task not in ann_info:
                raise KeyError(f'sample {name!r} has no annotation for task {task!r}; it has '
                               f'{sorted(ann_info)}')
            spec = dict(ann_info[task])
            reader_name = spec.pop('reader')
            if reader_name not in READERS:
                raise KeyError(f'unknown annotation reader {reader_name!r} for task {task!r}; '
                               f'known: {sorted(READERS)}')
            reader = READERS[reader_name]
            if img_shape is not None and _takes_shape(reader):
                spec.setdefault('shape', tuple(img_shape[:2]))
            arr = reader(**spec)
            if img_shape is not None and tuple(arr.shape[:2]) != tuple(img_shape[:2]):
                raise AnnotationError(
                    f'{spec["path"]}: {task} map is {arr.shape[0]}x{arr.shape[1]} but image '
                    f'{results.get("img_path")} is {img_shape[0]}x{img_shape[1]}')
            results[f'gt_{task}'] = arr
        results['task_fields'] = list(tasks)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(tasks={self.tasks})'
