"""Turn per-task logits into predictions with each task's ``TaskSpec.postprocess``."""
from torch import Tensor

from ...structures.tasks import TaskTable, find_task

#: Read-only ``{task: logits -> predictions}`` view of the registered tasks.
TASK_POSTPROCESS = TaskTable(lambda spec: spec.postprocess)


def postprocess_logits(task: str, logits: Tensor) -> Tensor:
    """Convert logits of ``task`` into the prediction format of the data sample.

    Built-in tasks (:mod:`sakbox.structures.builtin_tasks`): semseg /
    human_parts: argmax, int64 (B, 1, H, W); depth: clamped at 0, float
    (B, 1, H, W); normals: L2-normalised (B, 3, H, W); edge: sigmoid
    (B, 1, H, W); sal: softmax probability of class 1 (B, 1, H, W).

    Args:
        task (str): Task name.
        logits (Tensor): (B, K, H, W).

    Returns:
        Tensor: (B, C, H, W) predictions.

    Raises:
        KeyError: For a task that is not registered.
    """
    spec = find_task(task)
    if spec is None:
        raise KeyError(f'no post-processing for task {task!r}; known tasks: '
                       f'{sorted(TASK_POSTPROCESS)}')
    return spec.postprocess(logits)
