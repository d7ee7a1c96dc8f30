"""Building frozen teachers from their configs, as the distillers and the feature cache do.

One place decides what a teacher is built with, so that a distiller's online
teachers and the teachers of an offline feature cache
(:mod:`sakbox.datasets.feature_cache`) are the same networks:

* :func:`build_teacher_cfg`: the config a teacher is built (and recorded) with: the
  student's normalisation passed on as ``input_mean``/``input_std``, ``input_norm``
  spelled out.
* :func:`teacher_init_seeds`: the seed of each teacher (``seed + i`` in dict order).
* :func:`build_teachers`: all of them, frozen and in eval mode, each built under its
  seed (random initialisations identical in every run and process).
* :func:`probe_teacher_dims`: a teacher's ``embed_dims`` without its weights.
"""
import copy
from typing import Dict, List, Mapping, Optional, Union

import torch
import torch.nn as nn

from sakbox.registry import MODELS

from .base_teacher import fill_input_norm

#: Default data preprocessor of every distiller (and of the feature-cache extraction).
DEFAULT_PREPROCESSOR = dict(type='MultiTaskDataPreProcessor')


def _plain(cfg: Mapping) -> dict:
    return cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)


def build_teacher_cfg(cfg: Mapping, data_preprocessor: Optional[Union[Mapping, nn.Module]] = None,
                      name: str = 'teacher') -> dict:
    """The config a teacher is built (and a feature cache records it) with.

    The student's normalisation (``mean``/``std`` of the data preprocessor's
    config) is passed on as ``input_mean``/``input_std`` unless the teacher sets
    them (teachers that re-normalise undo it), and ``input_norm`` is spelled out
    (its class default if unset) so that built configs and cache records say
    what the network receives.

    Args:
        cfg (Mapping): The teacher's config (dict or ``ConfigDict``).
        data_preprocessor (Mapping | nn.Module, optional): The data
            preprocessor's config. A built module or None passes nothing on.
        name (str): The teacher's name, quoted in errors (``teachers.<name>``).

    Returns:
        dict: A completed deep copy of ``cfg``.
    """
    cfg = copy.deepcopy(_plain(cfg))
    preproc = data_preprocessor if isinstance(data_preprocessor, Mapping) else {}
    for src, dst in (('mean', 'input_mean'), ('std', 'input_std')):
        if preproc.get(src) is not None and dst not in cfg:
            cfg[dst] = list(preproc[src])
    return fill_input_norm(cfg, f'teachers.{name}')


def teacher_init_seeds(names, seed: Optional[int]) -> Dict[str, Optional[int]]:
    """The init seed of each teacher: ``seed + i`` for the ``i``-th name, None without a seed.

    Args:
        names (Iterable[str]): Teacher names in config order.
        seed (int, optional): The distiller's ``teacher_init_seed``.

    Returns:
        Dict[str, int | None]: Seed by name.
    """
    return {name: None if seed is None else int(seed) + i for i, name in enumerate(names)}


def build_teacher(cfg: Mapping, seed: Optional[int] = None) -> nn.Module:
    """Build one teacher, frozen (``requires_grad=False``) and in eval mode.

    Args:
        cfg (Mapping): A built config (see :func:`build_teacher_cfg`).
        seed (int, optional): Build under ``torch.manual_seed(seed)`` in a forked
            CPU RNG, so that a randomly initialised teacher is the same in every
            run and process and the caller's RNG is left untouched.

    Returns:
        nn.Module: The teacher.
    """
    if seed is None:
        teacher = MODELS.build(cfg)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            teacher = MODELS.build(cfg)
    teacher.requires_grad_(False)
    return teacher.eval()


def build_teachers(teachers_cfg: Optional[Mapping[str, Mapping]],
                   data_preprocessor: Optional[Union[Mapping, nn.Module]] = None,
                   seed: Optional[int] = None) -> nn.ModuleDict:
    """Build a distiller's teachers exactly as the distiller does.

    Args:
        teachers_cfg (Mapping[str, Mapping], optional): Teacher configs by name;
            the order is kept (it fixes the router experts and the seeds).
        data_preprocessor (Mapping | nn.Module, optional): The student's data
            preprocessor config, see :func:`build_teacher_cfg`.
        seed (int, optional): ``teacher_init_seed``: teacher ``i`` is built under
            ``seed + i`` (see :func:`build_teacher`).

    Returns:
        nn.ModuleDict: Frozen teachers in eval mode, by name (empty without configs).
    """
    teachers_cfg = dict(teachers_cfg or {})
    seeds = teacher_init_seeds(teachers_cfg, seed)
    return nn.ModuleDict({
        name: build_teacher(build_teacher_cfg(cfg, data_preprocessor, name), seeds[name])
        for name, cfg in teachers_cfg.items()})


def probe_teacher_dims(cfg: Mapping, name: str = 'teacher') -> List[int]:
    """``embed_dims`` of a teacher built without weights (meta device, else the CPU).

    Args:
        cfg (Mapping): The teacher's config.
        name (str): Its name, quoted in errors.

    Returns:
        List[int]: The channels of each level.

    Raises:
        AttributeError: The teacher has no ``embed_dims``.
    """
    cfg = copy.deepcopy(_plain(cfg))
    cfg['pretrained'] = False
    cfg['checkpoint'] = None
    try:
        with torch.device('meta'):
            teacher = MODELS.build(cfg)
    except Exception:  # some wrappers cannot be built on meta: use the CPU
        teacher = MODELS.build(cfg)
    try:
        return list(teacher.embed_dims)
    except AttributeError as e:
        raise AttributeError(f'teacher {name!r} ({cfg.get("type")}) has no `embed_dims`; '
                             'pass `teacher_dims` to the distiller') from e
