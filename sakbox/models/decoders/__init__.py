"""Dense task heads."""
from .base_head import BaseDecodeHead
from .dpt_head import DPTHead
from .linear_head import LinearHead
from .sak_head import SAKHead
from .sak_light_head import SAKLightHead

__all__ = ['BaseDecodeHead', 'SAKHead', 'SAKLightHead', 'LinearHead', 'DPTHead']
