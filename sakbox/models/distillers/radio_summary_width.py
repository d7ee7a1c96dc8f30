"""Where the width of a RADIO teacher's summary target comes from.

:class:`~sakbox.models.distillers.RADIODistiller` sizes each summary adaptor with
:func:`summary_width`: the configured ``summary_channels``, the feature width
(``summary_source='mean'``), or the teacher itself (built, or built without
weights when the teachers are not built). A wrong width would give checkpoints
that do not reload, so a teacher that cannot be built raises.
"""
import copy
import inspect
from typing import Optional, Tuple

import torch
from torch import nn

from sakbox.registry import MODELS


def teacher_summary_dim(teacher: nn.Module, name: str = '') -> Optional[int]:
    """Width of the summary a teacher provides itself, None if it provides none.

    A teacher provides a summary with ``forward_with_summary`` (unless its
    ``with_summary`` is False) or ``forward_summary``; it must then have a
    ``summary_dim``. :meth:`RADIODistiller.teacher_targets` uses the same rule.

    Args:
        teacher (nn.Module): A teacher (built, possibly on the meta device).
        name (str): Its name, for the error message.

    Returns:
        int | None: The width, or None (the summary target is mean-pooled features).
    """
    if not _provides_summary(teacher):
        return None
    dim = getattr(teacher, 'summary_dim', None)
    if not dim:
        raise AttributeError(f'teacher {name!r} ({type(teacher).__name__}) returns a summary '
                             'but has no `summary_dim`; set teacher_options.'
                             f'{name or "<name>"}.summary_channels')
    return int(dim)


def _provides_summary(teacher: nn.Module) -> bool:
    return ((hasattr(teacher, 'forward_with_summary') and getattr(teacher, 'with_summary', True))
            or hasattr(teacher, 'forward_summary'))


def summary_width(name: str, options: dict, teacher_cfg: dict, feature_channels: int,
                  teacher: Optional[nn.Module] = None) -> Tuple[int, str]:
    """Width of teacher ``name``'s summary target and where it came from.

    The order is: ``options['summary_channels']``; the feature width for
    ``summary_source='mean'``; else the teacher itself (``teacher`` when built,
    else a weightless build of ``teacher_cfg``), which gives its own summary
    width or None (mean-pooled features).

    Args:
        name (str): Teacher name.
        options (dict): Its parsed ``teacher_options``.
        teacher_cfg (dict): Its built config.
        feature_channels (int): Width of its dense target.
        teacher (nn.Module, optional): The built teacher.

    Returns:
        Tuple[int, str]: The width and a phrase naming its source (quoted in
        loading errors, ``RADIODistiller.summary_width_source``).
    """
    if options['summary_channels']:
        return int(options['summary_channels']), f'teacher_options.{name}.summary_channels'
    if options['summary_source'] != 'auto':
        return feature_channels, "summary_source='mean' (feature width)"
    if teacher is not None:
        how = 'the built teacher'
    elif not class_may_provide_summary(teacher_cfg):
        return feature_channels, (f'{teacher_cfg.get("type")} gives no summary of its own: '
                                  'mean-pooled features')
    else:
        teacher, how = build_weightless_teacher(name, teacher_cfg)
    dim = teacher_summary_dim(teacher, name)
    kind = type(teacher).__name__
    if dim is None:
        return feature_channels, f'{kind} gives no summary of its own: mean-pooled features ({how})'
    return dim, f'{kind}.summary_dim of {how}'


def class_may_provide_summary(teacher_cfg: dict) -> bool:
    """Whether a teacher config's class may give a summary of its own, known without a build.

    False for a registered class without any summary method, or one whose summary is
    switched by a ``with_summary`` argument the config leaves off.

    Args:
        teacher_cfg (dict): The teacher's config.

    Returns:
        bool: False only when the class surely gives none.
    """
    kind = teacher_cfg.get('type')
    cls = kind if isinstance(kind, type) else None
    if isinstance(kind, str):
        try:
            cls = MODELS.get(kind)
        except KeyError:
            cls = None
    if cls is None:  # let the build report the unknown type
        return True
    if not (hasattr(cls, 'forward_with_summary') or hasattr(cls, 'forward_summary')):
        return False
    # An opt-in summary (`with_summary=False` by default) is decided by the config.
    param = inspect.signature(cls.__init__).parameters.get('with_summary')
    if param is not None and not hasattr(cls, 'forward_summary'):
        default = None if param.default is inspect.Parameter.empty else param.default
        return bool(teacher_cfg.get('with_summary', default))
    return True


def build_weightless_teacher(name: str, teacher_cfg: dict) -> Tuple[nn.Module, str]:
    """Build a teacher without weights: on the meta device, else on the CPU.

    Args:
        name (str): Teacher name, for the error.
        teacher_cfg (dict): Its config.

    Returns:
        tuple: The teacher and a phrase saying how it was built.

    Raises:
        RuntimeError: Naming the teacher when neither build works.
    """
    cfg = copy.deepcopy(teacher_cfg)
    cfg.update(pretrained=False, checkpoint=None)
    errors = []
    for device, how in (('meta', 'a meta-device build'), ('cpu', 'a CPU build')):
        try:
            with torch.device(device):
                return MODELS.build(cfg), how
        except Exception as e:  # noqa: BLE001 - reported below with the teacher's name
            msg = str(e)
            errors.append(f'{device}: {type(e).__name__}: '
                          f'{msg[:200] + " ..." if len(msg) > 200 else msg}')
    raise RuntimeError(
        f'RADIODistiller: cannot determine the summary width of teacher {name!r} '
        f'({cfg.get("type")}): building it without weights failed ({"; ".join(errors)}). '
        f'Set model.teacher_options.{name}.summary_channels (or summary_source=\'mean\').')
