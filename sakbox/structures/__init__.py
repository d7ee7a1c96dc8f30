"""Data structures: the multi-task data sample, the task registry, padding geometry."""
from .builtin_tasks import (
    argmax_labels,
    clamped_depth,
    foreground_probability,
    sigmoid_probability,
    unit_normals,
)
from .multitask_data_sample import MultiTaskDataSample
from .padding import PAD_POSITIONS, check_pad_position, image_region, pad_offset
from .palette import voc_palette
from .tasks import (
    IGNORE_INDEX,
    TaskSpec,
    TaskTable,
    find_task,
    get_task,
    register_task,
    task_names,
    unregister_task,
)

__all__ = ['MultiTaskDataSample', 'PAD_POSITIONS', 'check_pad_position', 'image_region',
           'pad_offset', 'IGNORE_INDEX', 'TaskSpec', 'TaskTable', 'find_task', 'get_task',
           'register_task', 'task_names', 'unregister_task', 'argmax_labels', 'clamped_depth',
           'foreground_probability', 'sigmoid_probability', 'unit_normals', 'voc_palette']
