"""Official SAK checkpoint files (innovator-zero/SAK) -> sakbox checkpoint files.

The official training scripts save ``{'model': student.state_dict(),
'optimizer', 'scheduler', 'epoch', 'iter_count'}``; the key map of the
student state dict is :mod:`sakbox.converters.sak_official_keys`. Three
levels, as in :mod:`sakbox.converters.radio_official`:

* :func:`load_sak_official` reads a file (through
  :func:`sakbox.utils.checkpoint.read_checkpoint`);
* :func:`convert_sak_official` converts what it read into a sakbox checkpoint
  dict (:func:`unwrap_sak_official` takes the student state dict out of it,
  :func:`~sakbox.converters.sak_official_keys.convert_sak_official_state_dict`
  maps its keys);
* :func:`convert_sak_official_file` does both and writes the result, which
  loads with ``torch.load(weights_only=True)``.
"""
import os
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from sakbox.utils.checkpoint import CheckpointError, read_checkpoint
from sakbox.utils.publish_checkpoint import file_sha256
from sakbox.utils.state_dict_fit import strip_wrapper_prefixes

from .sak_official_keys import (
    DISTILLER_STUDENT,
    DISTILLER_TEACHERS,
    convert_sak_official_state_dict,
)


def unwrap_sak_official(obj: Any, source: str = 'checkpoint'
                        ) -> Tuple[Dict[str, Tensor], dict, List[str]]:
    """Take the student state dict out of an official checkpoint object.

    Accepts the training scripts' ``{'model': ..., 'epoch': ...}``, a bare
    state dict, a ``{'state_dict': ...}`` wrapper, a DDP ``module.`` prefix,
    and a whole ``MTMT_Distiller`` state dict (``student.*`` kept,
    ``teachers.*`` dropped).

    Args:
        obj: What :func:`load_sak_official` returned.
        source (str): Name of the file, for messages.

    Returns:
        Tuple[dict, dict, List[str]]: The student state dict, the training
        info found beside it (``epoch``, ``iter_count``) and the dropped
        teacher keys.
    """
    info = {}
    while isinstance(obj, dict) and not all(torch.is_tensor(v) for v in obj.values()):
        for key in ('epoch', 'iter_count'):
            if isinstance(obj.get(key), int):
                info.setdefault(key, obj[key])
        key = next((k for k in ('model', 'state_dict', 'module') if isinstance(obj.get(k), dict)),
                   None)
        if key is None:
            raise ValueError(f'{source}: no state dict found; top-level keys are '
                             f'{sorted(map(str, obj))[:10]} and none of model / state_dict / '
                             'module holds one.')
        obj = obj[key]
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f'{source}: expected a non-empty state dict, got '
                         f'{type(obj).__name__}.')
    sd = OrderedDict(strip_wrapper_prefixes(dict(obj)))
    dropped = []
    if any(k.startswith(DISTILLER_STUDENT) for k in sd):
        student = OrderedDict()
        for k, v in sd.items():
            if k.startswith(DISTILLER_STUDENT):
                student[k[len(DISTILLER_STUDENT):]] = v
            elif k.startswith(DISTILLER_TEACHERS):
                dropped.append(k)
            else:
                student[k] = v  # left for the converter to report
        sd = student
    return sd, info, dropped



def load_sak_official(path: str) -> Dict[str, Any]:
    """Read an official SAK file; ``weights_only=False`` only as a noted fallback.

    The official scripts also pickle the optimizer / scheduler state, which
    some torch versions refuse under ``weights_only=True``. Such a file is then
    read with ``weights_only=False``, and a NOTE saying so is printed: this
    function is meant for a file the user named explicitly (the converter).

    Args:
        path (str): ``.pth`` / ``.pt`` / ``.bin`` / ``.safetensors`` file.

    Returns:
        dict: What the file holds.

    Raises:
        CheckpointError: The file cannot be read (missing, empty, truncated,
            not a checkpoint); :func:`sakbox.utils.checkpoint.read_checkpoint`'s
            message.
    """
    try:
        return read_checkpoint(path, map_location='cpu')
    except CheckpointError as e:
        if not e.weights_only_refused:
            raise
        print(f'NOTE: {path} cannot be read with weights_only=True ('
              f'{", ".join(e.refused_globals) or "its pickle protocol"}); reading it with '
              'weights_only=False because you named this file explicitly. Only do this for '
              'files from a source you trust.')
        return read_checkpoint(path, map_location='cpu', weights_only=False)


def convert_sak_official(obj: Any, source: str = 'checkpoint', stage: Optional[int] = None,
                         teacher_names: Optional[Sequence[str]] = None,
                         official_teacher_order: Optional[Sequence[str]] = None,
                         allow_unmapped: bool = False) -> Dict[str, Any]:
    """Convert a loaded official SAK checkpoint to a sakbox checkpoint dict.

    Args:
        obj: What :func:`load_sak_official` returned (see
            :func:`unwrap_sak_official` for the accepted wrappers).
        source (str): The file name, for messages and ``meta['converted_from']``;
            a ``.safetensors`` name requires ``official_teacher_order`` when
            the file has routers (safetensors sorts its keys).
        stage (int, optional): 1 or 2; None detects it from the keys.
        teacher_names (Sequence[str], optional): See
            :func:`convert_sak_official_state_dict`.
        official_teacher_order (Sequence[str], optional): See
            :func:`convert_sak_official_state_dict`.
        allow_unmapped (bool): Drop keys without a sakbox counterpart
            (listed in ``meta['unmapped_keys']``) instead of raising.

    Returns:
        dict: ``{'meta': {...}, 'state_dict': {...}}``; ``meta`` names the
        sakbox model type, teachers, tasks, output blocks and options read
        from the keys.

    Raises:
        ValueError: ``obj`` was already converted, or holds no SAK student.
        UnmappedKeysError: Keys cannot be mapped and ``allow_unmapped`` is False.
    """
    if isinstance(obj, dict) and isinstance(obj.get('meta'), dict) and \
            'official_stage' in obj['meta']:
        raise ValueError(f'{source} was already converted by this tool (from '
                         f'{obj["meta"].get("converted_from")}); load it directly.')
    sd, info, dropped = unwrap_sak_official(obj, source)
    if str(source).endswith('.safetensors') and official_teacher_order is None and any(
            '.router.module.' in k for k in sd):
        raise ValueError(f'{source}: safetensors files store keys sorted, so the official '
                         'teacher order (the routers\' expert order) is lost; pass '
                         '--official-teacher-order as in the official config.')
    state_dict, layout, unmapped = convert_sak_official_state_dict(
        sd, stage=stage, teacher_names=teacher_names,
        official_teacher_order=official_teacher_order, allow_unmapped=allow_unmapped)
    meta = dict(
        converted_from=osp.basename(str(source)),
        converter='tools/model_converters/sak_official_to_sakbox.py',
        official_stage=layout.stage,
        model_type='MultiTaskDistiller' if layout.stage == 2 else 'MultiTeacherDistiller',
        teacher_names=list(layout.teacher_names),
        official_teacher_names=list(layout.official_teacher_names),
        tasks=list(layout.tasks),
        out_indices=list(layout.out_indices),
        vit_depth=layout.num_adapters - 1,
        aligners=layout.aligners,
        router=('MoRRouter' if layout.routers else None),
        noisy_gating=layout.noisy_gating,
        lora=layout.lora,
        dropped_teacher_keys=len(dropped),
        unmapped_keys=list(unmapped),
        **{f'official_{k}': v for k, v in info.items()})
    return dict(meta=meta, state_dict=state_dict)


def convert_sak_official_file(src: str, dst: str, stage: Optional[int] = None,
                              teacher_names: Optional[Sequence[str]] = None,
                              official_teacher_order: Optional[Sequence[str]] = None,
                              allow_unmapped: bool = False) -> Dict[str, Any]:
    """Convert the official file ``src`` and write the sakbox checkpoint ``dst``.

    ``dst`` is written atomically (nothing is left behind on an error) and read
    back weights-only, so what was written loads without pickled objects
    (``tools/test.py``, ``init_model``, ``load_from``, or, for a stage-1 file,
    ``model.student.checkpoint`` of a stage-2 config).

    Args:
        src (str): Official checkpoint.
        dst (str): Output file (``.pth``); folders are created.
        stage, teacher_names, official_teacher_order, allow_unmapped: See
            :func:`convert_sak_official`.

    Returns:
        dict: The written checkpoint's ``meta`` (with ``source_sha256``).

    Raises:
        CheckpointError: ``src`` cannot be read.
        ValueError, UnmappedKeysError: See :func:`convert_sak_official`.
    """
    ckpt = convert_sak_official(load_sak_official(src), src, stage=stage,
                                teacher_names=teacher_names,
                                official_teacher_order=official_teacher_order,
                                allow_unmapped=allow_unmapped)
    ckpt['meta']['source_sha256'] = file_sha256(src)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    tmp = dst + '.tmp'
    torch.save(ckpt, tmp)
    os.replace(tmp, dst)
    read_checkpoint(dst, map_location='cpu')  # must load without pickled objects
    return ckpt['meta']


def check_sak_file_with_config(config: str, checkpoint: str) -> None:
    """Build ``config``'s model without teachers and load ``checkpoint`` strictly.

    The teachers are never built (not even for a stage-1 distiller, whose
    test-time default builds them): the check needs only their widths, and
    building them would download their weights.

    Args:
        config (str): A sakbox config file.
        checkpoint (str): A converted file.

    Raises:
        CheckpointError: The checkpoint does not fit the model.
    """
    from sakbox.apis import init_model
    init_model(config, checkpoint, cfg_options={'model.build_teachers_for_test': False})
