"""Build the necks of a multi-task model: one shared by every task, or one per task.

A neck maps a task's feature levels to other levels before its heads, e.g. mmseg's
``MultiLevelNeck`` turns a ViT's four same-stride levels into a 4x / 2x / 1x / 0.5x
pyramid for ``UPerHead``. See docs/decoders.md.
"""
import copy
import inspect
from typing import Dict, Optional, Sequence, Tuple, Union

import torch.nn as nn

from sakbox.registry import MODELS

from .component_cfg import FeatureLevels, init_arg, init_params, resolve_module_class, scoped_cfg

__all__ = ['build_neck', 'build_necks']


def _neck_num_outputs(cfg: dict, params: Dict[str, inspect.Parameter],
                      in_levels: FeatureLevels) -> Optional[int]:
    """How many levels a neck returns: ``len(scales)``, ``num_outs`` or as many as it gets."""
    scales = init_arg(cfg, params, 'scales')
    if isinstance(scales, (list, tuple)):
        return len(scales)
    num_outs = init_arg(cfg, params, 'num_outs')
    if isinstance(num_outs, int):
        return num_outs
    in_channels = cfg.get('in_channels')
    return len(in_channels) if isinstance(in_channels, (list, tuple)) else in_levels.num


def build_neck(cfg: dict, *, levels: FeatureLevels,
               where: str) -> Tuple[nn.Module, FeatureLevels]:
    """Build a neck and describe the levels it returns.

    ``in_channels`` is filled in (one width per input level) when the neck accepts
    it and the config leaves it out. The output levels have the neck's
    ``out_channels`` (an int for all or one per level) and number ``len(scales)``
    (mmseg's ``MultiLevelNeck``), ``num_outs`` (``FPN``) or that of the inputs.

    Args:
        cfg: The neck config (changed in place).
        levels: The levels the neck receives.
        where: The config's place, for messages (``'neck'``, ``'neck.depth'``).

    Returns:
        tuple: ``(neck, output levels)``.
    """
    cls, scope = resolve_module_class(cfg, where)
    params, open_ = init_params(cls)
    if 'in_channels' not in cfg and ('in_channels' in params or open_):
        if levels.num is None:
            raise KeyError(f'{where} needs `in_channels`: {levels.source} does not say how '
                           'many levels it gives')
        cfg['in_channels'] = [levels.width(i, where) for i in range(levels.num)]
    num_out = _neck_num_outputs(cfg, params, levels)
    neck = MODELS.build(scoped_cfg(cfg, scope))
    out = init_arg(cfg, params, 'out_channels')
    widths: Union[int, Tuple[int, ...], None]
    if isinstance(out, int):
        widths = out
    elif isinstance(out, Sequence) and not isinstance(out, str):
        widths = tuple(int(c) for c in out)
    else:
        widths = None
    return neck, FeatureLevels(widths, num_out, where)


def build_necks(cfg: Optional[dict], tasks: Sequence[str], levels: FeatureLevels
                ) -> Tuple[Optional[nn.Module], Optional[nn.ModuleDict], Dict[str, FeatureLevels]]:
    """Build the ``neck`` argument of a multi-task model.

    Args:
        cfg: None (no neck), one config with ``type`` (one module shared by every
            task, applied to each task's levels) or ``{task: config}`` (per task;
            tasks not listed get none).
        tasks: The model's tasks.
        levels: The levels every task receives from the student.

    Returns:
        tuple: ``(shared neck or None, per-task necks or None, {task: the levels
        its heads receive})``.
    """
    if not cfg:
        return None, None, {t: levels for t in tasks}
    if 'type' in cfg:
        neck, out = build_neck(copy.deepcopy(dict(cfg)), levels=levels, where='neck')
        return neck, None, {t: out for t in tasks}
    unknown = sorted(set(cfg) - set(tasks))
    if unknown:
        raise KeyError(f'neck has configs for tasks that are not learned: {unknown} '
                       f'(tasks: {list(tasks)}); a shared neck needs a `type`')
    necks, task_levels = nn.ModuleDict(), {}
    for task in tasks:
        if task in cfg:
            necks[task], task_levels[task] = build_neck(
                copy.deepcopy(dict(cfg[task])), levels=levels, where=f'neck.{task}')
        else:
            task_levels[task] = levels
    return None, necks, task_levels
