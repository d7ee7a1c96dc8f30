"""Multi-task data transforms, registered in :data:`sakbox.registry.TRANSFORMS`.

Importing this package also imports :mod:`mmcv.transforms`, whose transforms
(``LoadImageFromFile``, ``Resize``, ``RandomFlip``, ...) register in MMEngine's
root registry and so are reachable from configs with ``default_scope='sakbox'``.
"""
import mmcv.transforms  # noqa: F401  (registers mmcv's transforms)

from .cached_views import SeededViewCrop, ViewParams, sample_view_params
from .formatting import AddIgnoreRegions, PackMultiTaskInputs
from .geometric import (
    MultiTaskPad,
    MultiTaskRandomCrop,
    MultiTaskRandomFlip,
    MultiTaskResize,
    RandomRescale,
    RandomResizedCrop,
)
from .loading import LoadMultiTaskAnnotations
from .photometric import MultiTaskPhotoMetricDistortion

__all__ = [
    'LoadMultiTaskAnnotations', 'MultiTaskResize', 'RandomRescale', 'MultiTaskRandomCrop',
    'MultiTaskRandomFlip', 'MultiTaskPad', 'RandomResizedCrop', 'MultiTaskPhotoMetricDistortion',
    'AddIgnoreRegions', 'PackMultiTaskInputs'
]
__all__ += ['SeededViewCrop', 'ViewParams', 'sample_view_params']
