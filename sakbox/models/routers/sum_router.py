"""Parameter-free router that sums the experts (the official 'none' ablation)."""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from sakbox.registry import MODELS

from .mor_router import check_experts


@MODELS.register_module()
class SumRouter(nn.Module):
    """``stem + sum(paths)``: every expert with weight 1, identical for all tasks.

    Args:
        in_channels (int, optional): Unused, accepted so configs can swap routers.
        num_experts (int, optional): If given, the number of experts is checked.
        **kwargs: Ignored router options (e.g. ``noisy_gating``).
    """

    def __init__(self, in_channels: Optional[int] = None, num_experts: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.num_experts = num_experts
        self.last_weights = None

    def forward(self, stem_feat: Tensor, experts: List[Tensor]) -> Tuple[Tensor, Tensor]:
        """Sum the experts.

        Args:
            stem_feat (Tensor): (B, C, h, w), only used for checks.
            experts (List[Tensor]): E maps (B, C, h, w).

        Returns:
            Tuple[Tensor, Tensor]: The sum (B, C, h, w) and ones (B, E).
        """
        check_experts(stem_feat, experts, self.num_experts or len(experts), 'SumRouter')
        mixed = experts[0]
        for e in experts[1:]:
            mixed = mixed + e
        weights = torch.ones(stem_feat.shape[0], len(experts), device=stem_feat.device,
                             dtype=stem_feat.dtype)
        self.last_weights = weights
        return mixed, weights
