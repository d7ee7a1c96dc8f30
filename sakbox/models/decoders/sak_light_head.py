"""A light SAK head: multi-level fusion at a coarser stride with separable convs."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from torch import Tensor

from sakbox.registry import MODELS

from .base_head import BaseTaskHead, project_levels


def _fuse_block(in_channels: int, out_channels: int, kernel_size: int, depthwise: bool,
                norm_cfg: dict, act_cfg: dict) -> nn.Module:
    """``kernel_size`` conv (depthwise-separable or dense) + norm + activation.

    The separable form is depthwise kxk -> pointwise 1x1 -> norm -> act (no
    norm / act between the two convs, as in MobileNet-v1's cheapest variant).
    """
    if depthwise:
        return DepthwiseSeparableConvModule(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2,
            norm_cfg=norm_cfg, act_cfg=act_cfg, dw_norm_cfg=None, dw_act_cfg=None)
    return ConvModule(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                      norm_cfg=norm_cfg, act_cfg=act_cfg)


class _ResidualBlock(nn.Module):
    """``x + block(x)``: a refinement step that cannot make the fused map worse at init."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return x + self.block(x)


@MODELS.register_module()
class SAKLightHead(BaseTaskHead):
    """A light variant of :class:`SAKHead` that keeps its multi-level fusion.

    Like the SAK head, every level goes through a linear layer C -> ``embed_dims``
    (C / 4 by default) at its own grid, is bilinearly upsampled to a common grid,
    and the ``num_levels`` levels are concatenated and fused by a ``kernel_size``
    conv + norm + activation. Three changes make it a fraction of the cost:

    * the fusion runs at stride ``fuse_stride`` of the input (8 by default, 4 x
      fewer pixels than the SAK head's stride 4);
    * the fuse conv is depthwise-separable (``depthwise=True``: depthwise kxk then
      pointwise 1x1) instead of a dense kxk;
    * it maps to ``channels`` (C / 2 by default) instead of keeping the concat width.

    ``num_refine`` residual blocks of the same kind follow, then a 1x1 classifier.
    The logits are bilinearly upsampled to the stride-4 size the distiller
    expects; a 1x1 conv commutes with bilinear upsampling, so classifying before
    upsampling gives the same result as classifying at stride 4, for less.

    For a ViT-B (C = 768) on NYUD's 448 x 576 input the SAK head costs about
    173 GFLOPs per task (its dense 3x3 768 -> 768 conv at stride 4), this head
    about 5 GFLOPs with the defaults.

    Args:
        in_channels (int): Channels C of every level.
        num_classes (int): Output channels K.
        num_levels (int): Number of levels. Default: 4.
        embed_dims (int, optional): Per-level width after the linear layer.
            Default: ``in_channels // 4`` (as the SAK head).
        channels (int, optional): Width of the fused map. Default: ``in_channels // 2``.
        fuse_stride (int): Stride (w.r.t. the input) of the grid where the levels
            are fused; at least 4. Default: 8.
        kernel_size (int): Kernel of the fuse and refinement convs (odd). Default: 3.
        depthwise (bool): Depthwise-separable instead of dense convs. Default: True.
        num_refine (int): Residual refinement blocks after the fusion. Default: 1.
        patch_size (int): Stride of the input grid. Default: 16.
        norm_cfg (dict): Norm after each conv. Default: ``dict(type='BN')``.
        act_cfg (dict): Activation after each norm. Default: ``dict(type='GELU')``.
        align_corners (bool): For the bilinear resizes. Default: False.
        init_cfg (dict | list, optional): MMEngine init config.

    Shapes:
        feats: ``num_levels`` x (B, C, h, w) -> logits (B, K, H / 4, W / 4).
    """

    def __init__(self, in_channels: int, num_classes: int, num_levels: int = 4,
                 embed_dims: Optional[int] = None, channels: Optional[int] = None,
                 fuse_stride: int = 8, kernel_size: int = 3, depthwise: bool = True,
                 num_refine: int = 1, patch_size: int = 16,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='GELU'),
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(in_channels, num_classes, num_levels, init_cfg=init_cfg)
        if int(fuse_stride) != fuse_stride or fuse_stride < 4:
            raise ValueError(f'SAKLightHead: fuse_stride must be an integer >= 4 (the output '
                             f'is at stride 4), got {fuse_stride}')
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'SAKLightHead: kernel_size must be odd and positive (same-size '
                             f'padding), got {kernel_size}')
        if num_refine < 0:
            raise ValueError(f'SAKLightHead: num_refine must be >= 0, got {num_refine}')
        self.embed_dims = embed_dims or max(1, in_channels // 4)
        self.channels = channels or max(1, in_channels // 2)
        self.fuse_stride = int(fuse_stride)
        self.patch_size = patch_size
        self.align_corners = align_corners
        self.linears = nn.ModuleList(
            nn.Linear(in_channels, self.embed_dims) for _ in range(num_levels))
        self.fuse = _fuse_block(self.embed_dims * num_levels, self.channels, kernel_size,
                                depthwise, norm_cfg, act_cfg)
        self.refine = nn.Sequential(*[
            _ResidualBlock(_fuse_block(self.channels, self.channels, kernel_size, depthwise,
                                       norm_cfg, act_cfg))
            for _ in range(num_refine)])
        self.last_conv = nn.Conv2d(self.channels, num_classes, kernel_size=1)

    def fuse_size(self, feats: Sequence[Tensor],
                  input_size: Optional[Tuple[int, int]]) -> Tuple[int, int]:
        """Return the size of the fusion grid (stride ``fuse_stride``).

        Args:
            feats (Sequence[Tensor]): Input levels (B, C, h, w).
            input_size (Tuple[int, int], optional): The (H, W) of the network input.

        Returns:
            Tuple[int, int]: (H / fuse_stride, W / fuse_stride), at least 1 x 1.
        """
        if input_size is not None:
            h, w = int(input_size[0]), int(input_size[1])
        else:
            h, w = (s * self.patch_size for s in feats[0].shape[-2:])
        return max(1, h // self.fuse_stride), max(1, w // self.fuse_stride)

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
        out_size = self.quarter_size(feats, self.patch_size, input_size)
        size = self.fuse_size(feats, input_size)
        outs = project_levels(self.linears, feats, size, self.align_corners)
        x = self.refine(self.fuse(torch.cat(outs, dim=1).contiguous()))
        x = self.last_conv(x)
        if x.shape[-2:] != out_size:
            x = F.interpolate(x, size=out_size, mode='bilinear',
                              align_corners=self.align_corners)
        return x
