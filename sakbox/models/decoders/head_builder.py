"""Build a task's decode head or auxiliary head from its config.

Any registered module can be a head: sakbox's (:class:`BaseTaskHead`: ``in_channels``
an int, ``num_levels``) or mmseg's decode heads (``type='mmseg.UPerHead'``,
``'mmseg.FCNHead'``, ...; :mod:`.component_cfg` resolves and scopes them). Only the
arguments a head accepts are filled in. See docs/decoders.md.
"""
from typing import Dict, Sequence, Union

import torch.nn as nn

from sakbox.registry import MODELS

from .component_cfg import FeatureLevels, init_arg, init_params, resolve_module_class, scoped_cfg

__all__ = ['build_task_head', 'auxiliary_loss_weights']


def build_task_head(cfg: dict, *, task: str, num_classes: int, levels: FeatureLevels,
                    where: str) -> nn.Module:
    """Build a decode (or auxiliary) head for ``task``.

    Filled in when the head accepts them and the config leaves them out:
    ``num_classes`` (checked against ``num_classes`` when given);
    ``in_channels``: for a head that selects levels with ``in_index`` (mmseg's
    ``BaseDecodeHead``) the width of the selected level, or a list of widths for a
    sequence ``in_index``; otherwise the width shared by every level;
    ``num_levels`` (sakbox heads). mmseg heads compute their loss from their own
    ``loss_decode``; sakbox uses ``task_losses``, so a ``loss_decode`` is refused.

    Args:
        cfg: The head config (changed in place).
        task: The task.
        num_classes: The task's output channels (``task_channels[task]``).
        levels: The levels the head receives.
        where: The config's place, for messages (``'decode_heads.semseg'``).

    Returns:
        nn.Module: The head, whose output has ``num_classes`` channels.
    """
    if 'loss_decode' in cfg:
        raise ValueError(
            f'{where} sets loss_decode={cfg["loss_decode"]!r}, but sakbox computes the loss of '
            f'task {task!r} with task_losses[{task!r}] (an auxiliary head\'s also, times '
            'auxiliary_loss_weight); remove loss_decode from the head config')
    cls, scope = resolve_module_class(cfg, where)
    params, open_ = init_params(cls)
    if cfg.get('num_classes', num_classes) != num_classes:
        raise ValueError(f'{where} has num_classes={cfg["num_classes"]} but '
                         f'task_channels[{task!r}]={num_classes}')
    if 'num_classes' in params or open_:
        cfg['num_classes'] = num_classes
    if 'in_channels' not in cfg and ('in_channels' in params or open_):
        if 'in_index' in params:
            index = init_arg(cfg, params, 'in_index')
            cfg['in_channels'] = ([levels.width(i, where) for i in index]
                                  if isinstance(index, (list, tuple))
                                  else levels.width(index, where))
        else:
            cfg['in_channels'] = levels.common_width(where)
    if 'num_levels' not in cfg and 'num_levels' in params and levels.num is not None:
        cfg['num_levels'] = levels.num
    head = MODELS.build(scoped_cfg(cfg, scope))
    out = getattr(head, 'out_channels', None) if 'out_channels' in params else None
    if out is not None and out != num_classes:
        raise ValueError(f'{where} ({cls.__name__}) outputs out_channels={out} but task '
                         f'{task!r} needs task_channels[{task!r}]={num_classes} channels; '
                         'leave out_channels unset')
    return head


def auxiliary_loss_weights(weight: Union[float, Dict[str, float]],
                           tasks: Sequence[str], default: float = 0.4) -> Dict[str, float]:
    """The weight of each auxiliary head's loss.

    Args:
        weight: One weight for every auxiliary head, or ``{task: weight}``
            (tasks with an auxiliary head left out get ``default``).
        tasks: The tasks with an auxiliary head.
        default: Weight of the tasks a dict leaves out (mmseg's 0.4).

    Returns:
        Dict[str, float]: ``{task: weight}``.
    """
    if isinstance(weight, dict):
        unknown = sorted(set(weight) - set(tasks))
        if unknown:
            raise KeyError(f'auxiliary_loss_weight names tasks without an auxiliary head: '
                           f'{unknown} (auxiliary_heads: {list(tasks)})')
        return {t: float(weight.get(t, default)) for t in tasks}
    if not isinstance(weight, (int, float)) or isinstance(weight, bool):
        raise TypeError(f'auxiliary_loss_weight must be a number or a dict per task, got '
                        f'{weight!r}')
    return {t: float(weight) for t in tasks}
