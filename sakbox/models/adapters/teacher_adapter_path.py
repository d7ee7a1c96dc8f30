"""Teacher-specific adapter path (TSAP) that runs beside the stem's blocks."""
from typing import List

import torch.nn as nn
from torch import Tensor

from sakbox.registry import MODELS

from .bottleneck_adapter import BottleneckAdapter


@MODELS.register_module()
class TeacherAdapterPath(nn.Module):
    """One adapter after the patch embedding and one after every stem block.

    With ``e`` the embedded tokens and ``x_i`` the output of stem block ``i``,
    the path computes ``r_0 = A_0(e)`` and ``r_{i+1} = A_{i+1}(r_i + x_i)``;
    ``r_{i+1}`` is this teacher's representation at block ``i``.

    Args:
        embed_dim (int): Token dimension of the stem.
        num_blocks (int): Number of stem blocks (the path holds ``num_blocks + 1``
            adapters).
        down_ratio (int): Bottleneck ratio of each adapter. Defaults to 4.
    """

    def __init__(self, embed_dim: int, num_blocks: int, down_ratio: int = 4) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.num_blocks = num_blocks
        self.adapters = nn.ModuleList(
            BottleneckAdapter(embed_dim, down_ratio) for _ in range(num_blocks + 1))

    def forward_embed(self, embed: Tensor) -> Tensor:
        """Start the path from the embedded tokens: ``r_0 = A_0(e)`` (B, L, C)."""
        return self.adapters[0](embed)

    def forward_block(self, index: int, prev: Tensor, block_out: Tensor) -> Tensor:
        """Step after stem block ``index``: ``A_{index+1}(prev + block_out)`` (B, L, C)."""
        return self.adapters[index + 1](prev + block_out)

    def forward(self, embed: Tensor, block_outs: List[Tensor]) -> List[Tensor]:
        """Run the whole path given all stem block outputs (reference/standalone use).

        Args:
            embed (Tensor): (B, L, C) tokens entering the first block.
            block_outs (List[Tensor]): ``num_blocks`` block outputs (B, L, C).

        Returns:
            List[Tensor]: The path output after each block, ``num_blocks`` x (B, L, C).
        """
        if len(block_outs) != self.num_blocks:
            raise ValueError(f'TeacherAdapterPath has {self.num_blocks} blocks, got '
                             f'{len(block_outs)} block outputs.')
        r = self.forward_embed(embed)
        outs = []
        for i, x in enumerate(block_outs):
            r = self.forward_block(i, r, x)
            outs.append(r)
        return outs
