"""Datasets, annotation readers, transforms and the synthetic scene generator.

Importing this package registers the datasets in :data:`sakbox.registry.DATASETS`
and the transforms in :data:`sakbox.registry.TRANSFORMS`.
"""
from . import transforms  # noqa: F401
from .class_names import HUMAN_PART_CLASSES, NYU40_CLASSES, VOC_CLASSES
from .image_folder import ImageFolderDataset
from .multitask_dataset import MultiTaskDataset
from .nyud import NYUDv2Dataset
from .pascal_context import PASCALContextDataset
from .readers import READERS, AnnotationError
from .teacher_feature_cache_dataset import TeacherFeatureCacheDataset

__all__ = [
    'transforms', 'MultiTaskDataset', 'NYUDv2Dataset', 'PASCALContextDataset',
    'ImageFolderDataset', 'READERS', 'AnnotationError', 'NYU40_CLASSES', 'VOC_CLASSES',
    'HUMAN_PART_CLASSES'
]
__all__ += ['TeacherFeatureCacheDataset']
