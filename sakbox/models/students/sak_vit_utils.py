"""Construction and checkpoint helpers of :class:`SAKViT`."""
from typing import Dict, List, Optional, Sequence, Union

import torch.nn as nn

from sakbox.utils.pos_embed import resample_pos_embeds_in_state_dict
from sakbox.utils.state_dict_fit import load_state_dict_file, load_state_dict_strict

# Version the LoRA path was tested with (see the stem tests).
PEFT_TESTED_VERSION = '0.21.2'


def normalize_teacher_dims(teacher_dims: Dict[str, Union[int, Sequence[int]]],
                           num_levels: int) -> Dict[str, List[int]]:
    """Expand ``{teacher: int | [int] * L}`` to ``{teacher: [int] * L}`` and check it.

    Args:
        teacher_dims (dict): Teacher name -> channels (all levels or per level).
        num_levels (int): Number of output levels L of the stem.

    Returns:
        Dict[str, List[int]]: Per-level channels, in the given teacher order.
    """
    if not isinstance(teacher_dims, dict):
        raise TypeError(f'teacher_dims must be a dict {{name: dims}}, got '
                        f'{type(teacher_dims).__name__}')
    out = {}
    for name, dims in teacher_dims.items():
        if not isinstance(name, str) or not name or '.' in name:
            raise ValueError(f'Teacher name {name!r} must be a non-empty string without '
                             "'.' (it becomes a module key).")
        dims = [int(dims)] * num_levels if isinstance(dims, int) else [int(d) for d in dims]
        if len(dims) != num_levels or any(d < 1 for d in dims):
            raise ValueError(f'teacher_dims[{name!r}] = {dims}: expected one positive width '
                             f'or {num_levels} (one per output level).')
        out[name] = dims
    return out


def apply_lora(vit: nn.Module, lora: dict) -> nn.Module:
    """Inject LoRA layers into ``vit`` in place with ``peft`` (only they stay trainable).

    ``peft.inject_adapter_in_model`` keeps the module's class and attributes,
    so the stem's forward is unchanged.

    Args:
        vit (nn.Module): The timm ViT.
        lora (dict): ``peft.LoraConfig`` kwargs; ``target_modules`` defaults to
            ``['qkv']`` (timm attention).

    Returns:
        nn.Module: The same ViT with LoRA layers.
    """
    try:
        from peft import LoraConfig, inject_adapter_in_model
    except ImportError as e:
        raise ImportError(
            'SAKViT(lora=...) needs the optional package peft (pip install peft; '
            f'tested with peft {PEFT_TESTED_VERSION}). Set lora=None to train without '
            f'LoRA. ({e})') from e
    cfg = dict(lora)
    cfg.setdefault('target_modules', ['qkv'])
    return inject_adapter_in_model(LoraConfig(**cfg), vit)


def _detect_prefix(keys: Sequence[str], path: str) -> str:
    """Prefix before ``vit.pos_embed`` (e.g. ``'student.stem.'``), '' if none."""
    if 'vit.pos_embed' in keys:
        return ''
    found = sorted({k[:-len('vit.pos_embed')] for k in keys if k.endswith('.vit.pos_embed')})
    if len(found) != 1:
        raise ValueError(f'Cannot find a single SAKViT in {path}: keys ending in '
                         f"'vit.pos_embed' have prefixes {found}; pass checkpoint_prefix.")
    return found[0]


def load_stem_checkpoint(stem: nn.Module, path: str, prefix: Optional[str] = None) -> None:
    """Load a SAKViT checkpoint (e.g. stage 1) into ``stem``, strictly.

    The ViT's position embedding is resampled (bicubic without antialiasing, as
    the official stage-1 -> stage-2 update: :func:`resample_pos_embeds_in_state_dict`)
    when the checkpoint was trained at another size; its grid must be square
    then. Routers absent from the file (a stage-1 stem) are allowed missing;
    every other missing, unexpected or mis-shaped key raises.

    Args:
        stem (SAKViT): Target stem.
        path (str): Checkpoint file (state dict, optionally wrapped/prefixed).
        prefix (str, optional): Key prefix of the stem in the file; auto-detected.
    """
    state_dict = load_state_dict_file(path)
    prefix = _detect_prefix(list(state_dict), path) if prefix is None else prefix
    state_dict = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    resample_pos_embeds_in_state_dict(stem, state_dict, source=path)
    load_state_dict_strict(stem, state_dict, path, allow_missing=('routers.', ))
