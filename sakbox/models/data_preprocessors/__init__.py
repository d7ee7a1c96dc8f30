"""Data preprocessors (registered in :data:`sakbox.registry.MODELS`)."""
from .multitask_data_preprocessor import IMAGENET_MEAN, IMAGENET_STD, MultiTaskDataPreProcessor

__all__ = ['MultiTaskDataPreProcessor', 'IMAGENET_MEAN', 'IMAGENET_STD']
