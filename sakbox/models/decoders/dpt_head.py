"""DPT-style head: reassemble ViT levels to a pyramid and fuse with RCUs."""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from torch import Tensor

from sakbox.registry import MODELS

from .base_head import BaseTaskHead


class ResidualConvUnit(nn.Module):
    """``x + conv(act(conv(act(x))))`` with 3x3 convs (DPT's RCU).

    Args:
        channels (int): Channels in and out.
        act_cfg (dict): Activation config.
    """

    def __init__(self, channels: int, act_cfg: dict) -> None:
        super().__init__()
        self.act1 = build_activation_layer(act_cfg)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act2 = build_activation_layer(act_cfg)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return x + self.conv2(self.act2(self.conv1(self.act1(x))))


class FusionBlock(nn.Module):
    """Fuse a coarser path into a skip level: ``RCU(path + RCU(skip))`` + project.

    Args:
        channels (int): Channels of both inputs and the output.
        act_cfg (dict): Activation config.
        align_corners (bool): For the bilinear resize of the coarser path.
    """

    def __init__(self, channels: int, act_cfg: dict, align_corners: bool) -> None:
        super().__init__()
        self.skip_unit = ResidualConvUnit(channels, act_cfg)
        self.out_unit = ResidualConvUnit(channels, act_cfg)
        self.project = nn.Conv2d(channels, channels, 1)
        self.align_corners = align_corners

    def forward(self, skip: Tensor, path: Optional[Tensor] = None) -> Tensor:  # noqa: D102
        x = self.skip_unit(skip)
        if path is not None:
            x = x + F.interpolate(path, size=skip.shape[-2:], mode='bilinear',
                                  align_corners=self.align_corners)
        return self.project(self.out_unit(x))


def _resample(channels: int, factor: float) -> nn.Module:
    """Change a grid's resolution by ``factor`` (4, 2, 1 or 0.5)."""
    if factor == 1:
        return nn.Identity()
    if factor > 1:
        k = int(factor)
        return nn.ConvTranspose2d(channels, channels, kernel_size=k, stride=k)
    s = int(round(1 / factor))
    return nn.Conv2d(channels, channels, kernel_size=3, stride=s, padding=1)


@MODELS.register_module()
class DPTTaskHead(BaseTaskHead):
    """Dense Prediction Transformer head for single-resolution ViT levels.

    Each level is projected (1x1) to ``reassemble_dims[i]``, resampled by
    ``reassemble_factors[i]`` (default 4, 2, 1, 1/2: strides 4, 8, 16, 32
    for a patch-16 ViT), mapped to ``channels`` by a 3x3 conv, then fused
    from the coarsest level up with residual conv units. The finest fused
    map goes through conv-norm-act and a 1x1 classifier.

    Args:
        in_channels (int): Channels C of every level.
        num_classes (int): Output channels K.
        num_levels (int): Number of levels. Default: 4.
        channels (int): Fusion width. Default: 256.
        reassemble_dims (Sequence[int], optional): Per-level widths after
            the projection. Default: ``channels`` for every level.
        reassemble_factors (Sequence[float]): Per-level resampling factors.
        norm_cfg (dict): Norm of the output block. Default: ``dict(type='BN')``.
        act_cfg (dict): Activation. Default: ``dict(type='ReLU')``.
        align_corners (bool): For the bilinear resizes. Default: False.
        init_cfg (dict | list, optional): MMEngine init config.

    Shapes:
        feats: ``num_levels`` x (B, C, h, w) -> logits (B, K, h * f_0, w * f_0),
        i.e. stride 4 for a patch-16 ViT with the default factors.
    """

    def __init__(self, in_channels: int, num_classes: int, num_levels: int = 4,
                 channels: int = 256, reassemble_dims: Optional[Sequence[int]] = None,
                 reassemble_factors: Sequence[float] = (4, 2, 1, 0.5),
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(in_channels, num_classes, num_levels, init_cfg=init_cfg)
        reassemble_dims = list(reassemble_dims or [channels] * num_levels)
        if len(reassemble_dims) != num_levels or len(reassemble_factors) != num_levels:
            raise ValueError(f'DPTTaskHead: reassemble_dims ({len(reassemble_dims)}) and '
                             f'reassemble_factors ({len(reassemble_factors)}) need one entry '
                             f'per level (num_levels={num_levels})')
        for f in reassemble_factors:
            if f not in (0.25, 0.5, 1, 2, 4, 8):
                raise ValueError(f'DPTTaskHead: reassemble factor {f} is not one of '
                                 '0.25, 0.5, 1, 2, 4, 8')
        self.align_corners = align_corners
        self.reassemble = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_channels, d, 1), _resample(d, f))
            for d, f in zip(reassemble_dims, reassemble_factors))
        self.convs = nn.ModuleList(
            nn.Conv2d(d, channels, 3, padding=1, bias=False) for d in reassemble_dims)
        self.fusion_blocks = nn.ModuleList(
            FusionBlock(channels, act_cfg, align_corners) for _ in range(num_levels))
        self.out_conv = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            build_norm_layer(norm_cfg, channels)[1],
            build_activation_layer(act_cfg),
        )
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def forward(self, feats: Sequence[Tensor],
                input_size: Optional[Tuple[int, int]] = None) -> Tensor:
        """Decode.

        Args:
            feats (Sequence[Tensor]): ``num_levels`` maps (B, C, h, w).
            input_size (Tuple[int, int], optional): Unused; the distiller resizes.

        Returns:
            Tensor: Logits (B, K, h * f_0, w * f_0).
        """
        self._check_inputs(feats)
        xs = [conv(re(f)) for re, conv, f in zip(self.reassemble, self.convs, feats)]
        # Fuse from the coarsest level (the one with the smallest grid) upwards.
        order = sorted(range(len(xs)), key=lambda i: xs[i].shape[-2] * xs[i].shape[-1])
        path = None
        for i in order:
            path = self.fusion_blocks[i](xs[i], path)
        return self.conv_seg(self.out_conv(path))
