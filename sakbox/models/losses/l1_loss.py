"""Masked L1 losses for depth and surface normals."""
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sakbox.registry import MODELS


@MODELS.register_module()
class L1Loss(nn.Module):
    """L1 summed over valid pixels (all channels), divided by #valid pixels.

    The official SAK ``L1Loss``: a pixel is valid when no channel of its
    target equals ``ignore_index``; with ``normalize=True`` the prediction is
    L2-normalised over channels first. sakbox's ground truth marks invalid
    depth by ``<= 0`` and invalid normals by the zero vector (the official
    pipeline turned both into 255), so two more switches drop them too.

    Args:
        normalize (bool): L2-normalise the prediction over channels. Default: False.
        ignore_index (float, optional): Target value to ignore. Default: 255.
        min_valid (float, optional): Pixels whose target is ``<= min_valid`` (in
            any channel) are ignored; ``0`` for depth. Default: None (off).
        ignore_zero_vector (bool): Ignore pixels whose target is all zeros
            (invalid normals). Default: False.
        loss_weight (float): Multiplier of the returned loss. Default: 1.0.
    """

    def __init__(self, normalize: bool = False, ignore_index: Optional[float] = 255,
                 min_valid: Optional[float] = None, ignore_zero_vector: bool = False,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        self.normalize = normalize
        self.ignore_index = ignore_index
        self.min_valid = min_valid
        self.ignore_zero_vector = ignore_zero_vector
        self.loss_weight = loss_weight

    def valid_mask(self, target: Tensor) -> Tensor:
        """Return the (B, 1, H, W) bool mask of valid pixels of ``target`` (B, C, H, W)."""
        mask = target.new_ones((target.shape[0], 1, *target.shape[2:]), dtype=bool)
        if self.ignore_index is not None:
            mask &= (target != self.ignore_index).all(dim=1, keepdim=True)
        if self.min_valid is not None:
            mask &= (target > self.min_valid).all(dim=1, keepdim=True)
        if self.ignore_zero_vector:
            mask &= (target != 0).any(dim=1, keepdim=True)
        return mask

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Predictions (B, C, H, W).
            target (Tensor): Targets (B, C, H, W) (or (B, H, W) when C = 1).

        Returns:
            Tensor: Scalar loss (already multiplied by ``loss_weight``).
        """
        if target.dim() == 3:
            target = target[:, None]
        if pred.shape != target.shape:
            raise ValueError(f'{type(self).__name__}: prediction {tuple(pred.shape)} and '
                             f'target {tuple(target.shape)} must have the same shape')
        target = target.to(pred.dtype)
        if self.normalize:
            pred = F.normalize(pred, p=2, dim=1)
        mask = self.valid_mask(target)
        n_valid = mask.sum()
        if n_valid == 0:
            return pred.sum() * 0.0
        mask_c = mask.expand_as(pred)
        loss = F.l1_loss(pred[mask_c], target[mask_c], reduction='sum')
        return self.loss_weight * loss / n_valid

    def extra_repr(self) -> str:  # noqa: D102
        return (f'normalize={self.normalize}, ignore_index={self.ignore_index}, '
                f'min_valid={self.min_valid}, ignore_zero_vector={self.ignore_zero_vector}, '
                f'loss_weight={self.loss_weight}')


@MODELS.register_module()
class DepthL1Loss(L1Loss):
    """:class:`L1Loss` for depth: ignores ``<= 0`` (invalid) and 255 (pad).

    Args:
        loss_weight (float): Multiplier of the returned loss. Default: 1.0.
        ignore_index (float, optional): Target value to ignore. Default: 255.
    """

    def __init__(self, loss_weight: float = 1.0, ignore_index: Optional[float] = 255) -> None:
        super().__init__(normalize=False, ignore_index=ignore_index, min_valid=0.0,
                         loss_weight=loss_weight)


@MODELS.register_module()
class NormalsL1Loss(L1Loss):
    """:class:`L1Loss` on L2-normalised predictions; ignores zero vectors and 255.

    Args:
        loss_weight (float): Multiplier of the returned loss. Default: 1.0.
        ignore_index (float, optional): Target value to ignore. Default: 255.
    """

    def __init__(self, loss_weight: float = 1.0, ignore_index: Optional[float] = 255) -> None:
        super().__init__(normalize=True, ignore_index=ignore_index, ignore_zero_vector=True,
                         loss_weight=loss_weight)
