"""Per-teacher adaptor heads of AM-RADIO.

Each teacher gets one small MLP that maps the student's summary token to the
teacher's summary space and one that maps every student patch token to the
teacher's feature space. The layout (``fc1`` -> residual inner blocks ->
``final`` = LayerNorm, GELU, Linear) follows the official "v2" MLP so that
released adaptor weights load by name.
"""
from typing import Dict, Optional

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from sakbox.registry import MODELS


class RADIOMLP(nn.Module):
    """Token MLP: ``fc1`` -> ``num_inner`` residual (LN, GELU, Linear) -> LN, GELU, Linear.

    Args:
        in_channels (int): Input width.
        hidden_channels (int): Hidden width.
        out_channels (int): Output width.
        num_inner (int): Residual inner blocks.
        pre_norm (bool): LayerNorm + GELU before ``fc1``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 num_inner: int = 0, pre_norm: bool = False) -> None:
        super().__init__()
        self.pre_norm = (nn.Sequential(nn.LayerNorm(in_channels), nn.GELU())
                         if pre_norm else nn.Identity())
        self.fc1 = nn.Linear(in_channels, hidden_channels)
        self.blocks = nn.ModuleList([
            nn.Sequential(nn.LayerNorm(hidden_channels), nn.GELU(),
                          nn.Linear(hidden_channels, hidden_channels))
            for _ in range(num_inner)
        ])
        self.final = nn.Sequential(nn.LayerNorm(hidden_channels), nn.GELU(),
                                   nn.Linear(hidden_channels, out_channels))

    def forward(self, x: Tensor) -> Tensor:
        """(..., in_channels) -> (..., out_channels)."""
        x = self.fc1(self.pre_norm(x))
        for blk in self.blocks:
            x = x + blk(x)
        return self.final(x)


@MODELS.register_module()
class RADIOAdaptorHead(BaseModule):
    """Summary and spatial adaptor for one teacher.

    Args:
        in_channels (int): Student width C.
        summary_channels (int, optional): Teacher summary width; None: no summary MLP.
        feature_channels (int, optional): Teacher feature width; None: no feature MLP.
        hidden_channels (int, optional): MLP hidden width (default ``in_channels``).
        num_inner (int): Residual inner blocks per MLP.
        feature_hidden_channels (int, optional): Hidden width of the feature MLP
            (default ``hidden_channels``).
        feature_num_inner (int, optional): Inner blocks of the feature MLP
            (default ``num_inner``).
        upsample_factor (int): Spatial up-sampling u of the feature output.
        upsample_mode (str): ``'pixel_shuffle'`` (the MLP predicts u*u sub-tokens per
            token, official layout) or ``'bilinear'`` (interpolate the MLP output).
        pre_norm (bool): LayerNorm + GELU before each MLP.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self, in_channels: int, summary_channels: Optional[int] = None,
                 feature_channels: Optional[int] = None,
                 hidden_channels: Optional[int] = None, num_inner: int = 0,
                 feature_hidden_channels: Optional[int] = None,
                 feature_num_inner: Optional[int] = None, upsample_factor: int = 1, upsample_mode: str = 'pixel_shuffle',
                 pre_norm: bool = False, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if upsample_mode not in ('pixel_shuffle', 'bilinear'):
            raise ValueError(f"RADIOAdaptorHead: upsample_mode must be 'pixel_shuffle' or "
                             f"'bilinear', got {upsample_mode!r}")
        if upsample_factor < 1:
            raise ValueError(f'RADIOAdaptorHead: upsample_factor must be >= 1, got '
                             f'{upsample_factor}')
        hidden = hidden_channels or in_channels
        self.in_channels = in_channels
        self.summary_channels = summary_channels
        self.feature_channels = feature_channels
        self.upsample_factor = upsample_factor
        self.upsample_mode = upsample_mode
        self.summary_mlp = (RADIOMLP(in_channels, hidden, summary_channels, num_inner, pre_norm)
                            if summary_channels else None)
        shuffle = upsample_mode == 'pixel_shuffle'
        feat_out = (feature_channels * upsample_factor**2 if shuffle else feature_channels
                    ) if feature_channels else None
        f_hidden = feature_hidden_channels or hidden
        f_inner = num_inner if feature_num_inner is None else feature_num_inner
        self.feature_mlp = (RADIOMLP(in_channels, f_hidden, feat_out, f_inner, pre_norm)
                            if feature_channels else None)

    def forward_summary(self, summary: Tensor) -> Tensor:
        """(B, C) student summary -> (B, summary_channels)."""
        if self.summary_mlp is None:
            raise RuntimeError('RADIOAdaptorHead was built with summary_channels=None')
        return self.summary_mlp(summary)

    def forward_features(self, features: Tensor) -> Tensor:
        """(B, C, h, w) student features -> (B, feature_channels, u*h, u*w)."""
        if self.feature_mlp is None:
            raise RuntimeError('RADIOAdaptorHead was built with feature_channels=None')
        if features.ndim != 4 or features.shape[1] != self.in_channels:
            raise ValueError(f'RADIOAdaptorHead: expected features (B, {self.in_channels}, h, w),'
                             f' got {tuple(features.shape)}')
        b, _, h, w = features.shape
        y = self.feature_mlp(features.flatten(2).transpose(1, 2))  # (B, h*w, C')
        u = self.upsample_factor
        if u > 1 and self.upsample_mode == 'pixel_shuffle':
            # sub-token order (u1, u2, c) as in the official heads
            y = y.reshape(b, h, w, u, u, self.feature_channels)
            return y.permute(0, 5, 1, 3, 2, 4).reshape(b, self.feature_channels, h * u, w * u)
        y = y.transpose(1, 2).reshape(b, -1, h, w)
        if u > 1:
            y = F.interpolate(y, scale_factor=u, mode='bilinear', align_corners=False)
        return y

    def forward(self, summary: Optional[Tensor] = None,
                features: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Adapt a student summary and/or feature map.

        Args:
            summary (Tensor, optional): (B, C).
            features (Tensor, optional): (B, C, h, w).

        Returns:
            dict: ``summary`` (B, summary_channels) and ``features``
            (B, feature_channels, u*h, u*w) for the inputs given (and heads built).
        """
        out = {}
        if summary is not None and self.summary_mlp is not None:
            out['summary'] = self.forward_summary(summary)
        if features is not None and self.feature_mlp is not None:
            out['features'] = self.forward_features(features)
        return out


__all__ = ['RADIOAdaptorHead', 'RADIOMLP']
