"""Bottleneck adapter of the SAK teacher-specific adapter paths."""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from sakbox.registry import MODELS


def init_sak_weights(module: nn.Module) -> None:
    """The official SAK init: trunc-normal(0.02) linears with zero bias, LayerNorm 1/0.

    Args:
        module (nn.Module): A module to initialise (used with ``Module.apply``).
    """
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        if module.weight is not None:
            nn.init.ones_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


@MODELS.register_module()
class BottleneckAdapter(nn.Module):
    """``x + scale * up(GELU(down(x)))`` on tokens.

    Args:
        in_channels (int): Token dimension C.
        down_ratio (int): Hidden dimension is ``in_channels // down_ratio``. Defaults to 4.
        out_channels (int, optional): Output dimension; must equal ``in_channels``
            because of the residual (kept for config symmetry). Defaults to C.
    """

    def __init__(self, in_channels: int, down_ratio: int = 4,
                 out_channels: Optional[int] = None) -> None:
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        if out_channels != in_channels:
            raise ValueError(f'BottleneckAdapter is residual: out_channels ({out_channels}) '
                             f'must equal in_channels ({in_channels}).')
        hidden = int(in_channels // down_ratio)
        if hidden < 1:
            raise ValueError(f'down_ratio {down_ratio} leaves no hidden units for '
                             f'{in_channels} channels.')
        self.down = nn.Linear(in_channels, hidden)
        self.act = nn.GELU()
        self.up = nn.Linear(hidden, out_channels)
        # Learnable scalar gate on the bottleneck branch, 1 at init as official.
        self.scale = nn.Parameter(torch.ones(1))
        self.init_weights()

    def init_weights(self) -> None:
        """Official init of the two linears; ``scale`` back to 1."""
        self.apply(init_sak_weights)
        nn.init.ones_(self.scale)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the adapter.

        Args:
            x (Tensor): (B, L, C) tokens.

        Returns:
            Tensor: (B, L, C).
        """
        return x + self.up(self.act(self.down(x))) * self.scale
