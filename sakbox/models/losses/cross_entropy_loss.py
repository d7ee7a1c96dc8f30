"""Cross-entropy for label maps (semseg, human parts, saliency)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sakbox.registry import MODELS


def _as_label_map(target: Tensor) -> Tensor:
    """(B, 1, H, W) or (B, H, W) -> (B, H, W) int64."""
    if target.dim() == 4:
        if target.shape[1] != 1:
            raise ValueError(f'label target must be (B, 1, H, W) or (B, H, W), got '
                             f'{tuple(target.shape)}')
        target = target[:, 0]
    return target.long()


@MODELS.register_module()
class MultiTaskCrossEntropyLoss(nn.Module):
    """Pixel-wise cross-entropy summed over valid pixels, divided by their count.

    This is the official SAK ``CELoss``: ``sum(CE) / max(#valid, 1)`` with
    ``ignore_index`` pixels excluded. With ``balanced=True`` (saliency) the
    two classes are weighted by the share of the *other* class among the
    valid pixels of the batch: ``w_0 = #pos / #valid``, ``w_1 = #neg / #valid``
    (the division is still by the number of valid pixels, as official).

    Args:
        balanced (bool): Class-balanced binary CE. Default: False.
        ignore_index (int): Label to ignore. Default: 255.
        loss_weight (float): Multiplier of the returned loss. Default: 1.0.
    """

    def __init__(self, balanced: bool = False, ignore_index: int = 255,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        self.balanced = balanced
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Logits (B, K, H, W).
            target (Tensor): Labels (B, 1, H, W) or (B, H, W).

        Returns:
            Tensor: Scalar loss (already multiplied by ``loss_weight``).
        """
        label = _as_label_map(target)
        if pred.shape[-2:] != label.shape[-2:]:
            raise ValueError(f'prediction {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ in spatial size')
        valid = label != self.ignore_index
        n_valid = valid.sum()
        if n_valid == 0:
            return pred.sum() * 0.0
        weight = None
        if self.balanced:
            masked = label[valid]
            if masked.max() > 1 or masked.min() < 0:
                raise ValueError('balanced MultiTaskCrossEntropyLoss needs binary labels {0, 1} '
                                 f'(besides {self.ignore_index}); got values '
                                 f'{torch.unique(masked).tolist()[:10]}')
            if pred.shape[1] != 2:
                raise ValueError(f'balanced MultiTaskCrossEntropyLoss needs 2-channel logits, got '
                                 f'{tuple(pred.shape)}')
            pos_weight = (1.0 - masked.float()).sum() / masked.numel()  # share of negatives
            weight = torch.stack((1.0 - pos_weight, pos_weight)).to(pred.dtype)
        loss = F.cross_entropy(pred, label, weight=weight, ignore_index=self.ignore_index,
                               reduction='sum')
        return self.loss_weight * loss / n_valid.clamp(min=1)

    def extra_repr(self) -> str:  # noqa: D102
        return (f'balanced={self.balanced}, ignore_index={self.ignore_index}, '
                f'loss_weight={self.loss_weight}')
