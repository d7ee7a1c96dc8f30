"""The six built-in dense tasks and their logits -> prediction rules (official SAK ``get_output``).

Registered in canonical order: ``semseg``, ``depth``, ``normals``, ``edge``,
``human_parts``, ``sal``; metric reports list them as the multi-task papers'
tables do: ``semseg``, ``human_parts``, ``sal``, ``normals``, ``depth``, ``edge``. Ground truth conventions (``docs/architecture.md``):
label maps use 255 = ignore; depth ``<= 0`` is invalid; a zero normal is invalid.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from .tasks import TaskSpec, register_task


def argmax_labels(logits: Tensor) -> Tensor:
    """(B, K, H, W) logits -> (B, 1, H, W) int64 labels."""
    return logits.argmax(dim=1, keepdim=True).to(torch.int64)


def clamped_depth(logits: Tensor) -> Tensor:
    """First channel, negatives clamped to 0 (official SAK), float: (B, 1, H, W)."""
    return logits[:, :1].clamp(min=0.0).float()


def unit_normals(logits: Tensor) -> Tensor:
    """L2-normalised over channels, float: (B, 3, H, W)."""
    return F.normalize(logits.float(), p=2, dim=1)


def sigmoid_probability(logits: Tensor) -> Tensor:
    """Sigmoid of the first channel, float: (B, 1, H, W)."""
    return torch.sigmoid(logits[:, :1].float())


def foreground_probability(logits: Tensor) -> Tensor:
    """Probability of class 1 (softmax; sigmoid for a single logit), float: (B, 1, H, W)."""
    if logits.shape[1] == 1:
        return torch.sigmoid(logits.float())
    return F.softmax(logits.float(), dim=1)[:, 1:2]


SEMSEG = TaskSpec(
    name='semseg', gt_kind='label', postprocess=argmax_labels, primary_metric='mIoU',
    color='labels', palette_key='palette', metric=dict(type='SegMetric', task='semseg'),
    report_rank=0)
DEPTH = TaskSpec(
    name='depth', gt_kind='float', postprocess=clamped_depth, primary_metric='RMSE',
    divide_by_zoom=True, invalid_rule='nonpositive', color='depth',
    lower_is_better=frozenset({'RMSE', 'absRel', 'sqRel', 'log10', 'RMSElog'}),
    metric=dict(type='DepthTaskMetric'), report_rank=4)
NORMALS = TaskSpec(
    name='normals', gt_kind='float', channels=3, postprocess=unit_normals,
    primary_metric='mErr', flip_negates=True, invalid_rule='zero_vector', color='normals',
    lower_is_better=frozenset({'mErr', 'medErr', 'rmsErr'}), metric=dict(type='NormalsMetric'),
    report_rank=3)
EDGE = TaskSpec(
    name='edge', gt_kind='label', postprocess=sigmoid_probability, primary_metric='odsF',
    color='gray', metric=dict(type='EdgeMetric'), report_rank=5)
HUMAN_PARTS = TaskSpec(
    name='human_parts', gt_kind='label', postprocess=argmax_labels, primary_metric='mIoU',
    invalid_rule='background_only', color='labels',
    metric=dict(type='SegMetric', task='human_parts', skip_background_only=True),
    report_rank=1)
SAL = TaskSpec(
    name='sal', gt_kind='label', postprocess=foreground_probability, primary_metric='maxF',
    color='gray', metric=dict(type='SaliencyMetric'), report_rank=2)

for _spec in (SEMSEG, DEPTH, NORMALS, EDGE, HUMAN_PARTS, SAL):
    register_task(_spec)
