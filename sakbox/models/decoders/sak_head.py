"""The SAK decode head: per-level MLP, upsample, concat, conv fuse."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from torch import Tensor

from sakbox.registry import MODELS

from .base_head import BaseTaskHead, project_levels


@MODELS.register_module()
class SAKHead(BaseTaskHead):
    """Simple MLP + conv head of SAK (official ``DecodeHead``).

    Every level goes through a linear layer C -> ``embed_dims`` (C / 4 by
    default), is bilinearly upsampled to the stride-4 size, the levels are
    concatenated (``num_levels * embed_dims`` channels), fused by a
    ``kernel_size`` conv + norm + activation and projected by a 1x1 conv.

    The stride-4 size is ``input_size // 4`` when the caller passes the input
    size (the distiller does; official SAK uses ``img_size // 4``), otherwise
    the first level's grid times ``patch_size / 4``; both agree when the input
    is a multiple of ``patch_size``. Parameter names follow the official
    head (``linears``, ``linear_fuse``, ``last_conv``) so that released
    weights convert by renaming the prefix only.

    Args:
        in_channels (int): Channels C of every level.
        num_classes (int): Output channels K.
        num_levels (int): Number of levels. Default: 4.
        kernel_size (int): Kernel of the fuse conv. Default: 3.
        embed_dims (int, optional): Per-level width after the linear layer.
            Default: ``in_channels // 4``.
        patch_size (int): Stride of the input grid. Default: 16.
        norm_cfg (dict): Norm after the fuse conv. Default: ``dict(type='BN')``.
        act_cfg (dict): Activation after the norm. Default: ``dict(type='GELU')``.
        align_corners (bool): For the bilinear upsampling. Default: False.
        init_cfg (dict | list, optional): MMEngine init config.

    Shapes:
        feats: ``num_levels`` x (B, C, h, w) -> logits (B, K, H / 4, W / 4).
    """

    def __init__(self, in_channels: int, num_classes: int, num_levels: int = 4,
                 kernel_size: int = 3, embed_dims: Optional[int] = None, patch_size: int = 16,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='GELU'),
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(in_channels, num_classes, num_levels, init_cfg=init_cfg)
        self.embed_dims = embed_dims or max(1, in_channels // 4)
        self.patch_size = patch_size
        self.align_corners = align_corners
        self.linears = nn.ModuleList(
            nn.Linear(in_channels, self.embed_dims) for _ in range(num_levels))
        fused = self.embed_dims * num_levels
        self.linear_fuse = nn.Sequential(
            nn.Conv2d(fused, fused, kernel_size=kernel_size, padding=kernel_size // 2),
            build_norm_layer(norm_cfg, fused)[1],
            build_activation_layer(act_cfg),
        )
        self.last_conv = nn.Conv2d(fused, num_classes, kernel_size=1)

    def forward(self, feats: Sequence[Tensor],
                input_size: Optional[Tuple[int, int]] = None) -> Tensor:
        """Decode.

        Args:
            feats (Sequence[Tensor]): ``num_levels`` maps (B, C, h, w).
            input_size (Tuple[int, int], optional): (H, W) of the network input.

        Returns:
            Tensor: Logits (B, K, H / 4, W / 4).
        """
        self._check_inputs(feats)
        size = self.quarter_size(feats, self.patch_size, input_size)
        outs = project_levels(self.linears, feats, size, self.align_corners)
        x = self.linear_fuse(torch.cat(outs, dim=1).contiguous())
        return self.last_conv(x)
