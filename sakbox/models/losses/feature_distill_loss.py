"""Per-level feature distillation loss (cosine + smooth-L1, as official SAK)."""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sakbox.registry import MODELS


def match_feature_sizes(student: Tensor, teacher: Tensor,
                        align_corners: bool = False) -> Tuple[Tensor, Tensor]:
    """Resize one of two (B, C, h, w) maps bilinearly to the other's grid.

    As in official SAK, the heights decide: if the teacher's grid is taller,
    the student map is resized to the teacher's grid; otherwise the teacher
    map is resized to the student's grid.

    Args:
        student (Tensor): (B, C, h_s, w_s).
        teacher (Tensor): (B, C, h_t, w_t).
        align_corners (bool): Passed to ``F.interpolate``.

    Returns:
        Tuple[Tensor, Tensor]: The two maps on a common (h, w) grid.
    """
    if student.shape[2:] == teacher.shape[2:]:
        return student, teacher
    if teacher.shape[2] > student.shape[2]:
        student = F.interpolate(student, size=teacher.shape[2:], mode='bilinear',
                                align_corners=align_corners)
    else:
        teacher = F.interpolate(teacher, size=student.shape[2:], mode='bilinear',
                                align_corners=align_corners)
    return student, teacher


@MODELS.register_module()
class FeatureDistillLoss(nn.Module):
    """Distillation loss between student and teacher feature pyramids.

    For every level the two maps are brought to a common grid
    (:func:`match_feature_sizes`) and compared with

    * ``'cos+l1'``: ``cos_weight * CosineEmbedding + l1_weight * SmoothL1``
      (official: 0.9 / 0.1);
    * ``'cos'``: ``CosineEmbedding`` only;
    * ``'l2'`` / ``'mse'``: mean squared error.

    ``cos_mode='sample'`` (official) flattens each sample's whole (C, h, w)
    map into one vector; ``cos_mode='token'`` averages ``1 - cos`` over the
    tokens (cosine over C at each position).

    Args:
        loss_type (str): ``'cos+l1'``, ``'cos'``, ``'l2'`` or ``'mse'``.
        cos_weight (float): Weight of the cosine term in ``'cos+l1'``.
        l1_weight (float): Weight of the smooth-L1 term in ``'cos+l1'``.
        cos_mode (str): ``'sample'`` or ``'token'``.
        loss_weight (float): Multiplier of every returned loss. Default: 1.0.
        align_corners (bool): For the bilinear resize. Default: False.
    """

    LOSS_TYPES = ('cos+l1', 'cos', 'l2', 'mse')

    def __init__(self, loss_type: str = 'cos+l1', cos_weight: float = 0.9,
                 l1_weight: float = 0.1, cos_mode: str = 'sample', loss_weight: float = 1.0,
                 align_corners: bool = False) -> None:
        super().__init__()
        if loss_type not in self.LOSS_TYPES:
            raise ValueError(f'FeatureDistillLoss: loss_type={loss_type!r} is not one of '
                             f'{self.LOSS_TYPES}')
        if cos_mode not in ('sample', 'token'):
            raise ValueError(f"FeatureDistillLoss: cos_mode={cos_mode!r} is not 'sample' "
                             "or 'token'")
        self.loss_type = loss_type
        self.cos_weight = cos_weight
        self.l1_weight = l1_weight
        self.cos_mode = cos_mode
        self.loss_weight = loss_weight
        self.align_corners = align_corners

    def _cosine(self, s: Tensor, t: Tensor) -> Tensor:
        if self.cos_mode == 'sample':
            target = s.new_ones(s.shape[0])
            return F.cosine_embedding_loss(s.flatten(1), t.flatten(1), target)
        return (1.0 - F.cosine_similarity(s, t, dim=1)).mean()

    def level_loss(self, student: Tensor, teacher: Tensor) -> Tensor:
        """Loss of one level; both (B, C, h, w) with equal B and C."""
        student, teacher = match_feature_sizes(student, teacher, self.align_corners)
        teacher = teacher.to(student.dtype)
        if self.loss_type == 'cos+l1':
            loss = (self.cos_weight * self._cosine(student, teacher)
                    + self.l1_weight * F.smooth_l1_loss(student, teacher))
        elif self.loss_type == 'cos':
            loss = self._cosine(student, teacher)
        else:
            loss = F.mse_loss(student, teacher)
        return self.loss_weight * loss

    def forward(self, student: Sequence[Tensor], teacher: Sequence[Tensor]) -> List[Tensor]:
        """Compute one loss per level.

        Args:
            student (Sequence[Tensor]): L maps (B, C_l, h, w).
            teacher (Sequence[Tensor]): L maps (B, C_l, h', w').

        Returns:
            List[Tensor]: L scalar losses.

        Raises:
            ValueError: If the level counts, batch sizes or channels differ.
        """
        if len(student) != len(teacher):
            raise ValueError(f'FeatureDistillLoss: {len(student)} student levels vs '
                             f'{len(teacher)} teacher levels')
        losses = []
        for i, (s, t) in enumerate(zip(student, teacher)):
            if s.dim() != 4 or t.dim() != 4 or s.shape[:2] != t.shape[:2]:
                raise ValueError(
                    f'FeatureDistillLoss level {i}: student {tuple(s.shape)} and teacher '
                    f'{tuple(t.shape)} must both be (B, C, h, w) with the same B and C '
                    '(use aligners when the student and teacher widths differ)')
            losses.append(self.level_loss(s, t))
        return losses

    def extra_repr(self) -> str:  # noqa: D102
        return (f'loss_type={self.loss_type!r}, cos_weight={self.cos_weight}, '
                f'l1_weight={self.l1_weight}, cos_mode={self.cos_mode!r}')


@torch.no_grad()
def feature_cosine_similarity(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean per-token cosine similarity of two maps, per sample.

    Args:
        student (Tensor): (B, C, h, w).
        teacher (Tensor): (B, C, h', w').

    Returns:
        Tensor: (B,) similarities in [-1, 1].
    """
    student, teacher = match_feature_sizes(student, teacher)
    return F.cosine_similarity(student.float(), teacher.float(), dim=1).flatten(1).mean(1)
