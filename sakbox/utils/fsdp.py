"""FSDP auto-wrap policy by module class name, for MMEngine's ``FSDPStrategy`` configs."""
from typing import Sequence

import torch.nn as nn

from sakbox.registry import FUNCTIONS

#: Units of the SAK / RADIO students that are always entered through ``__call__``:
#: timm ViT blocks and the SAK adapters. (``TeacherAdapterPath`` is not one: the stem
#: calls its ``forward_block`` method, which would bypass FSDP's unsharding.)
DEFAULT_WRAP_CLASSES = ('Block', 'BottleneckAdapter')


@FUNCTIONS.register_module()
def module_class_wrap_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int,
                             class_names: Sequence[str] = DEFAULT_WRAP_CLASSES) -> bool:
    """Make every module whose class is named in ``class_names`` its own FSDP unit.

    The class-name form of ``torch.distributed.fsdp.wrap.transformer_auto_wrap_policy``,
    usable from a config file, e.g.
    ``model_wrapper=dict(auto_wrap_policy=dict(type='sakbox.module_class_wrap_policy',
    class_names=['Block']))``. Only wrap modules that their parent *calls*
    (``module(x)``): FSDP gathers a unit's parameters in its ``forward``.

    Args:
        module (nn.Module): The module FSDP asks about.
        recurse (bool): True when FSDP asks whether to look into the children.
        nonwrapped_numel (int): Parameters not yet wrapped below ``module`` (unused).
        class_names (Sequence[str]): Class names (``type(m).__name__``) to wrap.

    Returns:
        bool: With ``recurse``, always True (descend); else whether to wrap ``module``.
    """
    if recurse:
        return True
    return type(module).__name__ in set(class_names)
