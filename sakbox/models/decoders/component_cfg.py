"""How decoder components are described and resolved: levels, types, init arguments.

Shared by :mod:`.head_builder` and :mod:`.neck_builder`. A component's ``type`` may
name a sakbox module, an mmseg one (``'mmseg.UPerHead'`` or ``_scope_='mmseg'``) or
be a class; it is built with ``_scope_`` set to its scope, so that what it builds
itself (norm layers, an mmseg head's default ``loss_decode``) resolves in its own
registry rather than in sakbox's. With mmcv-lite, ``mmseg.models`` imports only
with the mmcv.ops shim (:mod:`sakbox.utils.mmcv_ops_shim`); without it the error
says how to opt in. See docs/decoders.md.
"""
import copy
import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple, Union

import torch.nn as nn

from sakbox.registry import MODELS
from sakbox.utils.mmcv_ops_shim import SHIM_CONFIG_KEY

__all__ = ['FeatureLevels', 'student_levels', 'select_task_cfg', 'resolve_module_class',
           'init_params', 'init_arg', 'scoped_cfg']

_NO_DEFAULT = inspect.Parameter.empty


@dataclass(frozen=True)
class FeatureLevels:
    """The feature levels a neck or head receives.

    Args:
        widths: One channel count for every level, one per level, or None (unknown).
        num: Number of levels (None: unknown).
        source: Who gives them, for error messages (``'the student'``, ``'neck'``).
    """

    widths: Union[int, Tuple[int, ...], None]
    num: Optional[int]
    source: str

    def width(self, index: int, where: str) -> int:
        """Channels of level ``index`` (Python indexing, e.g. -1 = the last)."""
        if self.widths is None:
            raise KeyError(f'{where} needs `in_channels`: {self.source} exposes no level '
                           'widths (embed_dims / out_channels)')
        if isinstance(self.widths, int):
            return self.widths
        try:
            return int(self.widths[index])
        except (IndexError, TypeError):
            raise ValueError(f'{where}: in_index {index!r} does not select one of the '
                             f'{len(self.widths)} levels of {self.source} (widths '
                             f'{list(self.widths)})') from None

    def common_width(self, where: str) -> int:
        """The channels shared by every level (what an int ``in_channels`` needs)."""
        if isinstance(self.widths, tuple):
            if len(set(self.widths)) != 1:
                raise ValueError(f'the levels of {self.source} have different widths '
                                 f'{list(self.widths)}; give {where} an explicit `in_channels`')
            return int(self.widths[0])
        return self.width(0, where)


def select_task_cfg(cfgs: Optional[dict], task: str, key: str,
                    required: bool = True) -> Optional[dict]:
    """The config of ``task`` in ``cfgs``: shared (it has a ``type``) or ``cfgs[task]``.

    Args:
        cfgs: One config with ``type`` for every task, or ``{task: config}``.
        task: The task.
        key: The model argument, for messages (``'decode_heads'``, ``'neck'``, ...).
        required: Raise when ``task`` has no config (else None is returned).

    Returns:
        dict or None: A deep copy of the task's config.
    """
    if not cfgs:
        cfg = None
    elif 'type' in cfgs:
        cfg = cfgs
    else:
        cfg = cfgs.get(task)
    if cfg is None:
        if required:
            raise KeyError(f'{key} has no config for task {task!r}; give one shared config '
                           f'(with `type`) or one per task ({sorted(cfgs or {})})')
        return None
    return copy.deepcopy(dict(cfg))


def _require_scope_models(scope: str, type_name: str, where: str) -> None:
    """Import ``<scope>.models``, turning a missing ``mmcv._ext`` into a how-to."""
    if scope != 'mmseg':
        return
    try:
        importlib.import_module('mmseg.models')
    except ModuleNotFoundError as e:
        missing = e.name or ''
        if missing == 'mmseg':
            raise ImportError(f'{where} has type {type_name!r}, but mmsegmentation is not '
                              'installed: pip install mmsegmentation==1.2.2') from e
        if not missing.startswith('mmcv'):
            raise
        raise ImportError(
            f'{where} has type {type_name!r}, but mmseg.models cannot be imported: {e} '
            '(mmcv-lite has no compiled mmcv.ops). Opt in to sakbox\'s mmcv.ops shim, which '
            f'makes mmseg\'s plain heads and necks usable: set `{SHIM_CONFIG_KEY} = True` in '
            'the config (honoured by tools/train.py, tools/test.py, init_model and the tools '
            'that load configs), or call sakbox.utils.install_mmcv_ops_shim() before building '
            'the model; or install full mmcv with its compiled ops.') from e


def resolve_module_class(cfg: dict, where: str) -> Tuple[type, Optional[str]]:
    """The class a config's ``type`` names, and the registry scope it lives in.

    Args:
        cfg: A module config (``type`` a registered name, ``'scope.Name'`` or a class;
            an optional ``_scope_``).
        where: The config's place, for messages (``'decode_heads.semseg'``).

    Returns:
        tuple: ``(class, scope)``; the scope is None for sakbox's own components.
    """
    type_name = cfg.get('type')
    if type_name is None:
        raise KeyError(f'{where} has no `type`')
    scope = cfg.get('_scope_')
    if inspect.isclass(type_name):
        return type_name, scope
    if not isinstance(type_name, str):
        raise TypeError(f'{where}.type must be a registered name or a class, got {type_name!r}')
    # MMEngine's rule: the text before the first dot is the registry scope.
    prefix, key = type_name.split('.', 1) if '.' in type_name else (None, type_name)
    scope = scope or prefix
    if scope == 'sakbox':
        scope = None
    _require_scope_models(scope, type_name, where)
    name = f'{scope}.{key}' if scope else key
    try:
        cls = MODELS.get(name)
        found = ''
    except KeyError as e:  # MMEngine raises with its own suggestions
        # (its double quotes would make str(KeyError) escape every quote)
        cls, found = None, ': ' + str(e.args[0]).replace('"', "'")
    if cls is None:
        raise KeyError(f'{where}: type {type_name!r} is not a registered model component '
                       f"(looked up as {name!r} from sakbox's MODELS registry{found}); check "
                       'the spelling, or write `mmseg.<Name>` for an mmseg component')
    return cls, scope


def init_params(cls: type) -> Tuple[Dict[str, inspect.Parameter], bool]:
    """Named ``__init__`` parameters of ``cls`` and of the bases its ``**kwargs`` reach."""
    params: Dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if klass is object:
            break
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        sig = inspect.signature(init).parameters
        for name, p in sig.items():
            if name != 'self' and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                params.setdefault(name, p)
        if not any(p.kind == p.VAR_KEYWORD for p in sig.values()):
            return params, False
    return params, True


def init_arg(cfg: dict, params: Dict[str, inspect.Parameter], name: str) -> Any:
    """The value ``name`` takes: the config's, else the signature default (None if none)."""
    if name in cfg:
        return cfg[name]
    default = params[name].default if name in params else _NO_DEFAULT
    return None if default is _NO_DEFAULT else default


def scoped_cfg(cfg: dict, scope: Optional[str]) -> dict:
    """Give ``cfg`` the ``_scope_`` of its component (unless it has one); returns ``cfg``."""
    # MMEngine builds a config with `_scope_` (and everything it builds in turn)
    # in that scope's registry; without it an mmseg head's nested defaults would
    # be looked up in sakbox's registry under default_scope='sakbox'.
    if scope is not None:
        cfg.setdefault('_scope_', scope)
    return cfg


def student_levels(student: nn.Module) -> FeatureLevels:
    """The task-feature levels a student gives: ``embed_dims`` (or ``embed_dim``), ``out_indices``.

    Args:
        student: The built student.

    Returns:
        FeatureLevels: Their widths and number (None where the student does not say).
    """
    width = getattr(student, 'embed_dims', getattr(student, 'embed_dim', None))
    if isinstance(width, (list, tuple)):
        widths: Union[int, Tuple[int, ...], None] = tuple(int(w) for w in width)
    else:
        widths = None if width is None else int(width)
    if hasattr(student, 'out_indices'):
        num: Optional[int] = len(student.out_indices)
    else:
        num = len(widths) if isinstance(widths, tuple) else None
    return FeatureLevels(widths, num, 'the student')
