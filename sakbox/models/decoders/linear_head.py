"""Linear probe head: norm + 1x1 conv on one level or the concat of levels."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from torch import Tensor

from sakbox.registry import MODELS

from .base_head import BaseTaskHead


@MODELS.register_module()
class LinearHead(BaseTaskHead):
    """Linear probe: BN + 1x1 conv at the feature grid resolution.

    Args:
        in_channels (int): Channels C of every level.
        num_classes (int): Output channels K.
        num_levels (int): Number of input levels. Default: 4.
        in_index (int | str): Level to probe, or ``'concat'`` for the channel
            concatenation of all levels (resized to the first level's grid).
            Default: -1 (the last level).
        norm_cfg (dict, optional): Norm before the conv; None for none.
            Default: ``dict(type='BN')``.
        align_corners (bool): For the resize in ``'concat'`` mode. Default: False.
        init_cfg (dict | list, optional): MMEngine init config.

    Shapes:
        feats: ``num_levels`` x (B, C, h, w) -> logits (B, K, h, w).
    """

    def __init__(self, in_channels: int, num_classes: int, num_levels: int = 4,
                 in_index: Union[int, str] = -1, norm_cfg: Optional[dict] = dict(type='BN'),
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(in_channels, num_classes, num_levels, init_cfg=init_cfg)
        if in_index != 'concat' and not (isinstance(in_index, int)
                                         and -num_levels <= in_index < num_levels):
            raise ValueError(f"LinearHead: in_index={in_index!r} must be 'concat' or a "
                             f'level index in [-{num_levels}, {num_levels})')
        self.in_index = in_index
        self.align_corners = align_corners
        channels = in_channels * num_levels if in_index == 'concat' else in_channels
        self.norm = build_norm_layer(norm_cfg, channels)[1] if norm_cfg else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)

    def forward(self, feats: Sequence[Tensor],
                input_size: Optional[Tuple[int, int]] = None) -> Tensor:
        """Decode.

        Args:
            feats (Sequence[Tensor]): ``num_levels`` maps (B, C, h, w).
            input_size (Tuple[int, int], optional): Unused; the distiller resizes.

        Returns:
            Tensor: Logits (B, K, h, w) at the first (or probed) level's grid.
        """
        self._check_inputs(feats)
        if self.in_index == 'concat':
            size = feats[0].shape[-2:]
            x = torch.cat([
                f if f.shape[-2:] == size else F.interpolate(
                    f, size=size, mode='bilinear', align_corners=self.align_corners)
                for f in feats
            ], dim=1)
        else:
            x = feats[self.in_index]
        return self.conv_seg(self.norm(x))
