"""A light SAK head: the levels summed and given context at their coarse grid, then resized."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from torch import Tensor

from sakbox.registry import MODELS

from .base_head import BaseTaskHead, project_levels


def _conv_block(in_channels: int, out_channels: int, kernel_size: int, norm_cfg: dict,
                act_cfg: dict, groups: int = 1) -> nn.Module:
    """``kernel_size`` conv (same-size padding) + norm + activation."""
    return ConvModule(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                      groups=groups, norm_cfg=norm_cfg, act_cfg=act_cfg)


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
    return _conv_block(in_channels, out_channels, kernel_size, norm_cfg, act_cfg)


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

    Every level goes through a linear layer at its own grid and the levels are
    fused, then brought to the fusion grid (stride ``fuse_stride`` of the input),
    followed by norm + activation and a 1x1 classifier. Two fusions are offered
    (``fusion``):

    * ``'sum'`` (default): each level is projected C -> ``channels`` and the levels
      are summed at their own (coarse) grid. A sum of per-level projections is a
      1x1 conv over the concatenated levels; it commutes with the per-channel
      bilinear resize (whose weights sum to 1, biases included), so summing before
      the resize equals :class:`SAKHead`'s concat-then-conv order, at the coarse
      grid's cost. ``num_context`` residual blocks (dense kxk conv + norm +
      activation) follow at the coarse grid: for ViT-B levels (28 x 36 at 448 x
      576) a dense 3x3 conv there costs 1/16 of one at stride 4 and sees 4 x the
      context. The map is then resized once to the fusion grid and a depthwise kxk
      conv + norm + activation (``depthwise=False``: a dense kxk) makes the output
      nonlinear at full resolution, which edges need.
    * ``'concat'``: each level is projected C -> ``embed_dims``, the levels are
      resized to the fusion grid, concatenated and fused by a kxk conv
      (depthwise-separable when ``depthwise``) to ``channels``: :class:`SAKHead`
      narrowed (the light head's first design, see ``configs/sak/README.md``).

    ``num_refine`` residual blocks follow the fusion (depthwise-separable when
    ``depthwise``, else dense kxk; each conv + norm + activation). With
    ``fuse_stride`` > 4 the logits are bilinearly upsampled to the stride-4 size the
    distiller expects (a 1x1 classifier commutes with the upsampling).

    For a ViT-B (C = 768) on NYUD's 448 x 576 input, the SAK head costs about
    173 GFLOPs per task (its dense 3x3 768 -> 768 conv at stride 4); this head
    about 16 GFLOPs with the defaults (per-level linears 4.8, the 3x3 context conv
    at 28 x 36 10.7, the depthwise conv and the classifier the rest).

    Args:
        in_channels (int): Channels C of every level.
        num_classes (int): Output channels K.
        num_levels (int): Number of levels. Default: 4.
        embed_dims (int, optional): Per-level width after the linear layer with
            ``fusion='concat'``. Default: ``in_channels // 4`` (as the SAK head).
            Not used by ``fusion='sum'``, whose levels are projected to ``channels``.
        channels (int, optional): Width of the fused map. Default: ``in_channels``
            with ``fusion='sum'``, ``in_channels // 2`` with ``'concat'``.
        fuse_stride (int): Stride (w.r.t. the input) of the grid where the levels
            are fused; at least 4. Default: 4.
        fusion (str): ``'sum'`` or ``'concat'`` (see above). Default: ``'sum'``.
        kernel_size (int): Kernel of every kxk conv (odd). Default: 3.
        depthwise (bool): Depthwise (``'sum'``) or depthwise-separable (``'concat'``,
            refinement blocks) instead of dense kxk convs. Default: True.
        num_refine (int): Residual refinement blocks after the fusion. Default: 0.
        num_context (int): Residual dense kxk blocks at the levels' grid, before
            the resize (``fusion='sum'`` only). Default: 1.
        patch_size (int): Stride of the input grid. Default: 16.
        norm_cfg (dict): Norm after each conv. Default: ``dict(type='BN')``.
        act_cfg (dict): Activation after each norm. Default: ``dict(type='GELU')``.
        align_corners (bool): For the bilinear resizes. Default: False.
        init_cfg (dict | list, optional): MMEngine init config.

    Shapes:
        feats: ``num_levels`` x (B, C, h, w) -> logits (B, K, H / 4, W / 4).
    """

    fusions = ('sum', 'concat')

    def __init__(self, in_channels: int, num_classes: int, num_levels: int = 4,
                 embed_dims: Optional[int] = None, channels: Optional[int] = None,
                 fuse_stride: int = 4, fusion: str = 'sum', kernel_size: int = 3,
                 depthwise: bool = True, num_refine: int = 0, num_context: int = 1,
                 patch_size: int = 16,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='GELU'),
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(in_channels, num_classes, num_levels, init_cfg=init_cfg)
        if int(fuse_stride) != fuse_stride or fuse_stride < 4:
            raise ValueError(f'SAKLightHead: fuse_stride must be an integer >= 4 (the output '
                             f'is at stride 4), got {fuse_stride}')
        if fusion not in self.fusions:
            raise ValueError(f'SAKLightHead: fusion must be one of {self.fusions}, '
                             f'got {fusion!r}')
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'SAKLightHead: kernel_size must be odd and positive (same-size '
                             f'padding), got {kernel_size}')
        if num_refine < 0 or num_context < 0:
            raise ValueError(f'SAKLightHead: num_refine and num_context must be >= 0, got '
                             f'{num_refine} and {num_context}')
        if num_context and fusion != 'sum':
            raise ValueError(f"SAKLightHead: num_context needs fusion='sum' (the context "
                             f'blocks run on the summed levels), got fusion={fusion!r} '
                             f'with num_context={num_context}')
        self.fusion = fusion
        if fusion == 'sum':
            self.channels = channels or in_channels
            self.embed_dims = self.channels
        else:
            self.channels = channels or max(1, in_channels // 2)
            self.embed_dims = embed_dims or max(1, in_channels // 4)
        self.fuse_stride = int(fuse_stride)
        self.patch_size = patch_size
        self.align_corners = align_corners
        self.linears = nn.ModuleList(
            nn.Linear(in_channels, self.embed_dims) for _ in range(num_levels))
        if fusion == 'sum':
            self.context = nn.Sequential(*[
                _ResidualBlock(_conv_block(self.channels, self.channels, kernel_size,
                                           norm_cfg, act_cfg))
                for _ in range(num_context)])
            self.fuse = _conv_block(self.channels, self.channels, kernel_size, norm_cfg,
                                    act_cfg, groups=self.channels if depthwise else 1)
        else:
            self.context = nn.Sequential()
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
        if self.fusion == 'sum':
            # Sum at the finest level grid, then resize once (resize and channel mix commute).
            grid = (max(f.shape[-2] for f in feats), max(f.shape[-1] for f in feats))
            outs = project_levels(self.linears, feats, grid, self.align_corners)
            x = self.context(sum(outs[1:], outs[0]))
            if tuple(x.shape[-2:]) != tuple(size):
                x = F.interpolate(x, size=size, mode='bilinear', align_corners=self.align_corners)
        else:
            outs = project_levels(self.linears, feats, size, self.align_corners)
            x = torch.cat(outs, dim=1)
        x = self.refine(self.fuse(x.contiguous()))
        x = self.last_conv(x)
        if x.shape[-2:] != out_size:
            x = F.interpolate(x, size=out_size, mode='bilinear',
                              align_corners=self.align_corners)
        return x
