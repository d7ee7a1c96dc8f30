"""Resample absolute ViT position embeddings to another patch grid (one rule for sakbox).

:func:`resample_pos_embed` resamples one table with timm's
``resample_abs_pos_embed`` after checking that the table's grid is square;
:func:`resample_pos_embeds_in_state_dict` applies it to every ``*pos_embed`` of a
state dict that does not fit the model (students, distillers, whole-model loading).
"""
import math
from typing import Dict, List, Sequence

import torch.nn as nn
from torch import Tensor


def resample_pos_embed(posemb: Tensor, new_grid: Sequence[int], num_prefix_tokens: int,
                       antialias: bool = False, name: str = 'pos_embed') -> Tensor:
    """Resample a square-grid position table to ``new_grid`` (bicubic).

    Args:
        posemb (Tensor): (1, P + h * h, C) or (P + h * h, C), ``P`` prefix tokens
            (class, registers) first; they are kept as they are.
        new_grid (Sequence[int]): Target patch grid (H', W').
        num_prefix_tokens (int): P.
        antialias (bool): Antialias when downsampling. False is the official SAK
            stage-1 -> stage-2 rule; timm's filters and open_clip tables use True.
            Defaults to False.
        name (str): What the table is (file and key), quoted in errors.

    Returns:
        Tensor: (1, P + H' * W', C), or (P + H' * W', C) for a 2-D input.

    Raises:
        ValueError: The table's patch positions do not form a square grid.
    """
    from timm.layers import resample_abs_pos_embed
    squeeze = posemb.dim() == 2
    posemb = posemb.unsqueeze(0) if squeeze else posemb
    tokens = posemb.shape[1] - num_prefix_tokens
    side = math.isqrt(max(tokens, 0))
    if side * side != tokens:
        raise ValueError(f'{name}: the checkpoint has {tokens} patch positions (table '
                         f'{tuple(posemb.shape)}), not a square grid; cannot resample it to '
                         f'{tuple(new_grid)}')
    posemb = resample_abs_pos_embed(posemb, [int(s) for s in new_grid], [side, side],
                                    num_prefix_tokens=num_prefix_tokens,
                                    interpolation='bicubic', antialias=antialias)
    return posemb[0] if squeeze else posemb


def resample_pos_embeds_in_state_dict(model: nn.Module, state_dict: Dict[str, Tensor],
                                      prefix: str = '', source: str = '') -> List[str]:
    """Resample every ``*pos_embed`` in ``state_dict`` whose shape differs from ``model``'s.

    Covers timm-style ViTs (``(1, prefix + h * w, C)`` embeddings whose owner
    has ``patch_embed.grid_size``), e.g. a stage-1 stem trained at 384x384
    loaded into a stage-2 model at 448x576. The checkpoint's grid must be
    square; the target grid is the owner's ``patch_embed.grid_size``.
    Resampling is bicubic without antialiasing, as the official SAK code
    resamples. Other mismatches are left to the loader to report.

    Args:
        model (nn.Module): The module being loaded.
        state_dict (Dict[str, Tensor]): Modified in place.
        prefix (str): Key prefix of ``model`` in ``state_dict``.
        source (str): The file, quoted in errors.

    Returns:
        List[str]: The keys that were resampled.

    Raises:
        ValueError: If a mismatching embedding's grid is not square.
    """
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
        state_dict[key] = resample_pos_embed(value, grid, num_prefix, antialias=False,
                                             name=f'{source}: {key}' if source else key)
        done.append(key)
    return done
