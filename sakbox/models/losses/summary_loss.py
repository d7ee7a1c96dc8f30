"""Summary-token (CLS / pooled embedding) distillation loss of AM-RADIO."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from sakbox.registry import MODELS


@MODELS.register_module()
class SummaryCosineLoss(nn.Module):
    """``1 - cos(student, teacher)`` between summary vectors, averaged over the batch.

    AM-RADIO matches each teacher's summary (CLS token, or CLIP's projected image
    embedding) with a cosine loss only: the summary's norm carries no meaning for
    zero-shot retrieval or kNN, its direction does.

    Args:
        loss_weight (float): Multiplier of the loss.
        l1_weight (float): Optional extra smooth-L1 term (0: pure cosine, as in RADIO).
    """

    def __init__(self, loss_weight: float = 1.0, l1_weight: float = 0.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.l1_weight = l1_weight

    def forward(self, student: Tensor, teacher: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            student (Tensor): (B, C) student summaries (after the adaptor).
            teacher (Tensor): (B, C) teacher summaries.
            weight (Tensor, optional): (B,) per-sample weights.

        Returns:
            Tensor: scalar loss.
        """
        if student.shape != teacher.shape or student.ndim != 2:
            raise ValueError(f'SummaryCosineLoss: student {tuple(student.shape)} and teacher '
                             f'{tuple(teacher.shape)} must both be (B, C)')
        teacher = teacher.to(student.dtype)
        loss = 1.0 - F.cosine_similarity(student, teacher, dim=1)
        if self.l1_weight:
            loss = loss + self.l1_weight * F.smooth_l1_loss(
                student, teacher, reduction='none').mean(1)
        if weight is not None:
            loss = (loss * weight).sum() / weight.sum().clamp_min(1e-12)
        else:
            loss = loss.mean()
        return self.loss_weight * loss

    def extra_repr(self) -> str:  # noqa: D102
        return f'loss_weight={self.loss_weight}, l1_weight={self.l1_weight}'
