"""Mixture-of-Representations (MoR) router with noisy gating."""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sakbox.registry import MODELS

from ..adapters.bottleneck_adapter import init_sak_weights


def check_experts(stem_feat: Tensor, experts: Sequence[Tensor], num_experts: int,
                  name: str) -> None:
    """Fail clearly when the experts do not match the router or the stem features."""
    if len(experts) != num_experts:
        raise ValueError(f'{name} was built for {num_experts} experts, got {len(experts)}.')
    for i, e in enumerate(experts):
        if e.shape != stem_feat.shape:
            raise ValueError(f'{name}: expert {i} has shape {tuple(e.shape)}, expected the '
                             f'stem features\' {tuple(stem_feat.shape)}.')


def mix_experts(experts: Sequence[Tensor], weights: Tensor) -> Tensor:
    """``sum_e weights[:, e] * experts[e]`` without stacking the experts.

    Args:
        experts (Sequence[Tensor]): E maps (B, C, h, w).
        weights (Tensor): (B, E) global or (B, E, h, w) per-token weights.

    Returns:
        Tensor: (B, C, h, w).
    """
    w = weights[:, :, None, None, None] if weights.dim() == 2 else weights.unsqueeze(2)
    mixed = experts[0] * w[:, 0]
    for e in range(1, len(experts)):
        mixed = mixed + experts[e] * w[:, e]
    return mixed


def permute_expert_outputs(value: Tensor, order: Sequence[int], noisy_gating: bool) -> Tensor:
    """Reorder the expert rows of a router MLP's last Linear weight or bias.

    The last Linear outputs one logit per expert (``[clean (E), noise (E)]``
    with noisy gating); rows are taken in the new expert order, both halves
    alike. The official SAK router has the same output layout, so the SAK
    converter uses this too.

    Args:
        value (Tensor): (E or 2E, ...) weight or bias.
        order (Sequence[int]): Expert ``e`` of the result is expert
            ``order[e]`` of ``value``.
        noisy_gating (bool): Whether ``value`` holds the noise half too.

    Returns:
        Tensor: A new tensor, rows permuted.
    """
    idx = torch.as_tensor(list(order), dtype=torch.long)
    if noisy_gating:  # [clean logits (E), noise logits (E)]
        idx = torch.cat([idx, idx + len(order)])
    return value[idx]


@MODELS.register_module()
class MoRRouter(nn.Module):
    """Global Mixture-of-Representations router (one weight per expert per image).

    An MLP (C -> C * hidden_ratio, LayerNorm, GELU -> E, or 2E with noisy
    gating) runs on every stem token; its outputs are averaged over tokens and
    a softmax over the experts ``[stem, teacher_1, ..., teacher_T]`` gives the
    mixing weights. With noisy gating the second half of the logits sets a
    noise std ``softplus(raw) + noise_eps``; noise is added only in training,
    eval uses the clean logits (deterministic). The last weights are kept in
    ``last_weights`` (detached) for statistics hooks.

    Args:
        in_channels (int): Channels C of the stem features and the experts.
        num_experts (int): E = 1 + number of teachers.
        noisy_gating (bool): Learnable Gaussian noise on the logits in training.
        hidden_ratio (float): Hidden width of the MLP relative to C. Defaults to 0.5.
        noise_eps (float): Minimum noise std. Defaults to 1e-2.
    """

    def __init__(self, in_channels: int, num_experts: int, noisy_gating: bool = True,
                 hidden_ratio: float = 0.5, noise_eps: float = 1e-2) -> None:
        super().__init__()
        if num_experts < 1:
            raise ValueError(f'num_experts must be >= 1, got {num_experts}')
        self.in_channels = in_channels
        self.num_experts = num_experts
        self.noisy_gating = noisy_gating
        self.noise_eps = noise_eps
        hidden = max(1, int(in_channels * hidden_ratio))
        out = num_experts * 2 if noisy_gating else num_experts
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, hidden), nn.LayerNorm(hidden), nn.GELU(),
            nn.Linear(hidden, out))
        self.last_weights = None
        self.init_weights()

    def init_weights(self) -> None:
        """Official SAK init (trunc-normal 0.02 linears, LayerNorm 1/0)."""
        self.mlp.apply(init_sak_weights)

    def token_logits(self, stem_feat: Tensor) -> Tensor:
        """Per-token MLP logits.

        Args:
            stem_feat (Tensor): (B, C, h, w).

        Returns:
            Tensor: (B, h * w, E or 2E).
        """
        return self.mlp(stem_feat.flatten(2).transpose(1, 2))

    def pool_logits(self, logits: Tensor, stem_feat: Tensor) -> Tensor:
        """Global router: mean over tokens, (B, L, E') -> (B, E')."""
        return logits.mean(dim=1)

    def gate(self, logits: Tensor) -> Tensor:
        """Noisy (train) or clean (eval) softmax over the expert dim 1.

        Args:
            logits (Tensor): (B, E', ...) with E' = 2E under noisy gating.

        Returns:
            Tensor: (B, E, ...) weights summing to 1 over dim 1.
        """
        if self.noisy_gating:
            clean, raw_std = logits.chunk(2, dim=1)
            if self.training:
                std = F.softplus(raw_std) + self.noise_eps
                logits = clean + torch.randn_like(clean) * std
            else:
                logits = clean
        return logits.softmax(dim=1)

    def forward(self, stem_feat: Tensor, experts: List[Tensor]) -> Tuple[Tensor, Tensor]:
        """Mix the experts.

        Args:
            stem_feat (Tensor): (B, C, h, w) stem features, the router's input.
            experts (List[Tensor]): E maps (B, C, h, w), ``[stem, path_1, ..., path_T]``.

        Returns:
            Tuple[Tensor, Tensor]: Mixed features (B, C, h, w) and the weights
            (B, E) (``(B, E, h, w)`` for the spatial router).
        """
        check_experts(stem_feat, experts, self.num_experts, type(self).__name__)
        weights = self.gate(self.pool_logits(self.token_logits(stem_feat), stem_feat))
        self.last_weights = weights.detach()
        return mix_experts(experts, weights), weights

    def reorder_expert_state(self, state_dict: dict, prefix: str, order: Sequence[int]) -> None:
        """Permute this router's per-expert outputs in a state dict about to be loaded.

        Used when a checkpoint's experts come in another order than this
        router's (a config whose teachers were re-ordered).

        Args:
            state_dict (dict): The state dict (changed in place).
            prefix (str): This router's key prefix in it (``'...routers.semseg.0.'``).
            order (Sequence[int]): Expert ``e`` of this router is expert
                ``order[e]`` of the checkpoint.
        """
        rows = len(order) * (2 if self.noisy_gating else 1)
        last = f'{prefix}mlp.{len(self.mlp) - 1}.'
        for name in ('weight', 'bias'):
            value = state_dict.get(last + name)
            if value is not None and value.shape[0] == rows:
                state_dict[last + name] = permute_expert_outputs(value, order, self.noisy_gating)

    def extra_repr(self) -> str:  # noqa: D102
        return f'num_experts={self.num_experts}, noisy_gating={self.noisy_gating}'
