"""Turn per-task logits into predictions (the official SAK ``get_output``)."""
from typing import Callable, Dict

import torch
import torch.nn.functional as F
from torch import Tensor


def _labels(logits: Tensor) -> Tensor:
    return logits.argmax(dim=1, keepdim=True).to(torch.int64)


def _depth(logits: Tensor) -> Tensor:
    # Official SAK clamps negative depth to 0 before evaluation.
    return logits[:, :1].clamp(min=0.0).float()


def _normals(logits: Tensor) -> Tensor:
    return F.normalize(logits.float(), p=2, dim=1)


def _edge(logits: Tensor) -> Tensor:
    return torch.sigmoid(logits[:, :1].float())


def _sal(logits: Tensor) -> Tensor:
    if logits.shape[1] == 1:  # a single-logit saliency head
        return torch.sigmoid(logits.float())
    return F.softmax(logits.float(), dim=1)[:, 1:2]


#: task -> function mapping logits (B, K, H, W) to predictions (B, C, H, W).
TASK_POSTPROCESS: Dict[str, Callable[[Tensor], Tensor]] = dict(
    semseg=_labels, human_parts=_labels, depth=_depth, normals=_normals, edge=_edge,
    sal=_sal)


def postprocess_logits(task: str, logits: Tensor) -> Tensor:
    """Convert logits of ``task`` into the prediction format of the data sample.

    semseg / human_parts: argmax, int64 (B, 1, H, W); depth: clamped at 0,
    float (B, 1, H, W); normals: L2-normalised (B, 3, H, W); edge: sigmoid
    (B, 1, H, W); sal: softmax probability of class 1 (B, 1, H, W).

    Args:
        task (str): Task name.
        logits (Tensor): (B, K, H, W).

    Returns:
        Tensor: (B, C, H, W) predictions.

    Raises:
        KeyError: For a task without a post-processing rule.
    """
    if task not in TASK_POSTPROCESS:
        raise KeyError(f'no post-processing for task {task!r}; known tasks: '
                       f'{sorted(TASK_POSTPROCESS)}')
    return TASK_POSTPROCESS[task](logits)
