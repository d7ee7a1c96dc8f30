"""Data structures."""
from .multitask_data_sample import TASKS, MultiTaskDataSample
from .padding import PAD_POSITIONS, check_pad_position, image_region, pad_offset

__all__ = ['MultiTaskDataSample', 'TASKS', 'PAD_POSITIONS', 'check_pad_position',
           'image_region', 'pad_offset']
