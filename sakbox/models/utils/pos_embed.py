"""Resample ViT position embeddings while loading a state dict."""
import math
from typing import Dict, List

import torch.nn as nn
from torch import Tensor


def resample_pos_embeds_in_state_dict(model: nn.Module, state_dict: Dict[str, Tensor],
                                      prefix: str = '') -> List[str]:
    """Resample every ``*pos_embed`` in ``state_dict`` whose shape differs from ``model``'s.

    Covers timm-style ViTs (``(1, prefix + h * w, C)`` embeddings whose owner
    has ``patch_embed.grid_size``), e.g. a stage-1 stem trained at 384x384
    loaded into a stage-2 model at 448x576. The checkpoint's grid must be
    square; the target grid is the owner's ``patch_embed.grid_size``. Other
    mismatches are left to the loader to report.

    Args:
        model (nn.Module): The module being loaded.
        state_dict (Dict[str, Tensor]): Modified in place.
        prefix (str): Key prefix of ``model`` in ``state_dict``.

    Returns:
        List[str]: The keys that were resampled.

    Raises:
        ValueError: If a mismatching embedding's grid is not square.
    """
    from timm.layers import resample_abs_pos_embed
    done = []
    for name, param in model.named_parameters():
        if not name.endswith('pos_embed'):
            continue
        key = prefix + name
        value = state_dict.get(key)
        if value is None or value.shape == param.shape or value.dim() != 3:
            continue
        owner = model.get_submodule(name.rpartition('.')[0])
        grid = getattr(getattr(owner, 'patch_embed', None), 'grid_size', None)
        if grid is None or value.shape[-1] != param.shape[-1]:
            continue
        num_prefix = 0 if getattr(owner, 'no_embed_class', False) else int(
            getattr(owner, 'num_prefix_tokens', 1))
        tokens = value.shape[1] - num_prefix
        side = math.isqrt(max(tokens, 0))
        if side * side != tokens:
            raise ValueError(f'{key}: the checkpoint has {tokens} patch positions, not a square '
                             f'grid; cannot resample it to {tuple(grid)}')
        # bicubic without antialiasing, as the official SAK code resamples.
        state_dict[key] = resample_abs_pos_embed(value, list(grid), [side, side],
                                                 num_prefix_tokens=num_prefix,
                                                 interpolation='bicubic', antialias=False)
        done.append(key)
    return done
