"""Dense task heads."""
from .base_head import BaseTaskHead
from .dpt_head import DPTTaskHead
from .linear_head import LinearHead
from .sak_head import SAKHead
from .sak_light_head import SAKLightHead

__all__ = ['BaseTaskHead', 'SAKHead', 'SAKLightHead', 'LinearHead', 'DPTTaskHead']
