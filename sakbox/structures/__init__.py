"""Data structures."""
from .multitask_data_sample import TASKS, MultiTaskDataSample

__all__ = ['MultiTaskDataSample', 'TASKS']
