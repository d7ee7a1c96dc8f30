"""Class-balanced binary cross-entropy for edge detection."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sakbox.registry import MODELS


@MODELS.register_module()
class BalancedBCELoss(nn.Module):
    """Balanced BCE with logits over valid pixels (the official SAK edge loss).

    Positives are weighted by ``w = pos_weight`` and negatives by ``1 - w``:
    the loss is ``mean(BCEWithLogits(pos_weight=w / (1 - w))) * (1 - w)`` over
    the pixels whose label is not ``ignore_index``.

    Args:
        pos_weight (float): Weight of the positive class, in (0, 1). Default: 0.95.
        ignore_index (int): Label to ignore. Default: 255.
        loss_weight (float): Multiplier of the returned loss. Default: 1.0.
    """

    def __init__(self, pos_weight: float = 0.95, ignore_index: int = 255,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if not 0.0 < pos_weight < 1.0:
            raise ValueError(f'pos_weight must be in (0, 1), got {pos_weight}')
        self.pos_weight = pos_weight
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Logits (B, 1, H, W).
            target (Tensor): Labels 0/1 (B, 1, H, W), ``ignore_index`` ignored.

        Returns:
            Tensor: Scalar loss (already multiplied by ``loss_weight``).
        """
        if target.dim() == 3:
            target = target[:, None]
        if pred.shape != target.shape:
            raise ValueError(f'BalancedBCELoss: prediction {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} must have the same shape')
        mask = target != self.ignore_index
        if not mask.any():
            return pred.sum() * 0.0
        logits = pred[mask]
        label = target[mask].to(logits.dtype)
        factor = 1.0 / (1.0 - self.pos_weight)
        pos_w = logits.new_tensor(self.pos_weight * factor)
        loss = F.binary_cross_entropy_with_logits(logits, label, pos_weight=pos_w)
        return self.loss_weight * loss / factor

    def extra_repr(self) -> str:  # noqa: D102
        return (f'pos_weight={self.pos_weight}, ignore_index={self.ignore_index}, '
                f'loss_weight={self.loss_weight}')
