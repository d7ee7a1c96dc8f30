"""Build timm models and load local files into them, for students and teachers alike."""
import sys
from typing import Callable, Optional

import torch.nn as nn
from mmengine.logging import print_log

from sakbox.utils.state_dict_fit import load_state_dict_file, load_state_dict_strict


def create_timm_model(arch: str, pretrained: bool, checkpoint: Optional[str],
                      **kwargs) -> nn.Module:
    """Build a timm model from the hub (``pretrained``) or a local file (``checkpoint``).

    A local checkpoint wins over ``pretrained`` so that offline machines never
    reach for the hub when a file is given.

    Args:
        arch (str): timm model name (a ``.tag`` suffix selects pretrained weights).
        pretrained (bool): Load timm's pretrained weights (needs the hub).
        checkpoint (str, optional): Local weights file, loaded strictly
            (:func:`load_timm_checkpoint`).
        **kwargs: Passed to ``timm.create_model``.

    Returns:
        nn.Module: The timm model.
    """
    import timm
    if checkpoint is not None and pretrained:
        print_log(f'{arch}: loading {checkpoint}; pretrained=True is ignored.', logger='current')
    model = timm.create_model(arch, pretrained=pretrained and checkpoint is None, **kwargs)
    if checkpoint is not None:
        load_timm_checkpoint(model, checkpoint)
    return model


def timm_filter_fn(model: nn.Module) -> Optional[Callable]:
    """The checkpoint filter that timm itself uses for ``model``'s family.

    timm keeps one ``checkpoint_filter_fn`` per model module; it converts
    official-format checkpoints (OpenAI/OpenCLIP CLIP, DINOv2, SAM, ...) to timm
    key names and resamples position embeddings and patch kernels.

    Args:
        model (nn.Module): A model built by ``timm.create_model``.

    Returns:
        Callable or None: ``fn(state_dict, model) -> state_dict`` if the module has one.
    """
    mod = sys.modules.get(type(model).__module__)
    return getattr(mod, 'checkpoint_filter_fn', None)


def load_timm_checkpoint(model: nn.Module, path: str) -> None:
    """Load a local file into a timm model through timm's own filter, strictly.

    Keys of the classifier named in ``model.pretrained_cfg['classifier']`` are
    ignored because teachers and students are built without one.

    Args:
        model (nn.Module): A model built by ``timm.create_model`` (no features wrapper).
        path (str): Checkpoint file.

    Raises:
        CheckpointError: The file cannot be read.
        CheckpointMismatchError: The (filtered) weights do not fit ``model``.
    """
    state_dict = load_state_dict_file(path)
    filter_fn = timm_filter_fn(model)
    if filter_fn is not None:
        state_dict = filter_fn(state_dict, model)
    classifier = (getattr(model, 'pretrained_cfg', None) or {}).get('classifier') or 'head'
    if isinstance(classifier, str):
        classifier = (classifier, )
    load_state_dict_strict(model, state_dict, path,
                           ignore_unexpected=tuple(f'{c}.' for c in classifier))
