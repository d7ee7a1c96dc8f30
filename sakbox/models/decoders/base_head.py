"""Common parts of the dense task heads."""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor


class BaseTaskHead(BaseModule):
    """Base class of sakbox task heads.

    A head maps ``num_levels`` feature maps (B, C, h, w) to logits
    (B, num_classes, H', W'); the distiller resizes the logits to the input
    size. Subclasses implement :meth:`forward`.

    Args:
        in_channels (int): Channels C of every input level.
        num_classes (int): Output channels K.
        num_levels (int): Number of input levels.
        init_cfg (dict | list, optional): MMEngine init config.
    """

    def __init__(self, in_channels: int, num_classes: int, num_levels: int = 4,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_channels <= 0 or num_classes <= 0 or num_levels <= 0:
            raise ValueError(f'{type(self).__name__}: in_channels={in_channels}, '
                             f'num_classes={num_classes} and num_levels={num_levels} '
                             'must be positive')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.num_levels = num_levels

    def _check_inputs(self, feats: Sequence[Tensor]) -> None:
        """Raise a ``ValueError`` naming the level whose shape does not fit."""
        if len(feats) != self.num_levels:
            raise ValueError(f'{type(self).__name__} expects {self.num_levels} feature levels, '
                             f'got {len(feats)}')
        for i, f in enumerate(feats):
            if f.dim() != 4 or f.shape[1] != self.in_channels:
                raise ValueError(
                    f'{type(self).__name__}: level {i} has shape {tuple(f.shape)}; expected '
                    f'(B, {self.in_channels}, h, w) (in_channels={self.in_channels})')

    @staticmethod
    def quarter_size(feats: Sequence[Tensor], patch_size: int,
                     input_size: Optional[Tuple[int, int]]) -> Tuple[int, int]:
        """Return the stride-4 output size.

        ``input_size // 4`` when the input size is given (official SAK uses
        ``img_size // 4``), else the first level's grid times ``patch_size / 4``.

        Args:
            feats (Sequence[Tensor]): Input levels (B, C, h, w).
            patch_size (int): Stride of the feature grid w.r.t. the input.
            input_size (Tuple[int, int], optional): The (H, W) of the network input.

        Returns:
            Tuple[int, int]: (H / 4, W / 4).
        """
        if input_size is not None:
            return int(input_size[0]) // 4, int(input_size[1]) // 4
        h, w = feats[0].shape[-2:]
        return max(1, h * patch_size // 4), max(1, w * patch_size // 4)


def project_levels(linears: Sequence[nn.Module], feats: Sequence[Tensor], size: Tuple[int, int],
                   align_corners: bool = False) -> List[Tensor]:
    """Apply one channel-wise linear layer per level and resize every level to ``size``.

    Args:
        linears (Sequence[nn.Module]): One ``nn.Linear`` (C -> E) per level.
        feats (Sequence[Tensor]): Levels (B, C, h, w).
        size (Tuple[int, int]): Common (h', w') of the outputs (bilinear resize;
            levels already of that size are left as they are).
        align_corners (bool): For the bilinear resize.

    Returns:
        List[Tensor]: Levels (B, E, h', w').
    """
    outs = []
    for linear, f in zip(linears, feats):
        x = linear(f.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # (B, E, h, w)
        if tuple(x.shape[-2:]) != tuple(size):
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=align_corners)
        outs.append(x)
    return outs
