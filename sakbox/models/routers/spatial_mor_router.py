"""Spatial variant of the MoR router: one weight per expert per token."""
from torch import Tensor

from sakbox.registry import MODELS

from .mor_router import MoRRouter


@MODELS.register_module()
class SpatialMoRRouter(MoRRouter):
    """MoR router without token pooling: weights (B, E, h, w), a softmax per token.

    Same MLP, init and noisy gating as :class:`MoRRouter` (an extra option,
    not part of the official SAK). Takes the same arguments.
    """

    def pool_logits(self, logits: Tensor, stem_feat: Tensor) -> Tensor:
        """(B, h * w, E') -> (B, E', h, w)."""
        b, _, h, w = stem_feat.shape
        return logits.transpose(1, 2).reshape(b, -1, h, w)
