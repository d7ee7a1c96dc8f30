"""Distillation targets: the teachers' precision context and features read from a cache.

:class:`~sakbox.models.distillers.BaseDistiller` runs its teachers online inside
:func:`teacher_precision_context` and returns :func:`as_float32` copies; features
attached to the data samples by an offline cache (``teacher_feats``) are checked
and batched by :func:`stack_cached_teacher_feats`.
"""
import contextlib
from typing import Dict, Iterator, List, Mapping, Optional, Sequence

import torch
from torch import Tensor

from sakbox.utils.precision import PRECISION_DTYPES, resolve_precision


def check_teacher_precision(precision: str) -> str:
    """Validate a ``teacher_precision`` value.

    Args:
        precision (str): ``'auto'``, ``'bf16'``, ``'fp16'`` or ``'fp32'``.

    Returns:
        str: ``precision``.

    Raises:
        ValueError: Any other value.
    """
    if precision != 'auto' and precision not in PRECISION_DTYPES:
        raise ValueError(f"teacher_precision must be 'auto' or one of "
                         f'{sorted(PRECISION_DTYPES)}, got {precision!r}')
    return precision


@contextlib.contextmanager
def teacher_precision_context(precision: str, device: torch.device) -> Iterator[torch.dtype]:
    """Inference mode + the teachers' own autocast.

    The context replaces any autocast active around it (e.g. the student's
    fp16 autocast), so the teachers' precision only depends on ``precision``.

    Args:
        precision (str): ``teacher_precision`` (``'auto'``: bf16 where the device
            runs it natively, else fp32).
        device (torch.device): Device the teachers run on.

    Yields:
        torch.dtype: The dtype the teachers' matrix work runs in.
    """
    device_type = torch.device(device).type
    dtype = resolve_precision(precision, device_type)
    enabled = dtype != torch.float32
    if device_type not in ('cpu', 'cuda'):  # autocast only where it is supported
        enabled = False
    with torch.inference_mode(), torch.autocast(device_type=device_type, dtype=dtype,
                                                enabled=enabled):
        yield dtype if enabled else torch.float32


def as_float32(feats: Sequence[Tensor]) -> List[Tensor]:
    """Copy inference-mode outputs into normal float32 tensors usable by autograd.

    Args:
        feats (Sequence[Tensor]): Tensors made under ``torch.inference_mode``.

    Returns:
        List[Tensor]: float32 copies.
    """
    return [f.to(torch.float32, copy=True) for f in feats]


def stack_cached_teacher_feats(data_samples: Optional[Sequence], batch_size: int,
                               teacher_dims: Mapping[str, Sequence[int]],
                               device: torch.device) -> Dict[str, List[Tensor]]:
    """Batch the cached ``teacher_feats`` of the data samples.

    Args:
        data_samples (Sequence, optional): The batch's samples; features are read
            only when every one has a ``teacher_feats`` field
            (``{teacher: [(C_l, h_l, w_l), ...]}``).
        batch_size (int): B of the image batch.
        teacher_dims (Mapping[str, Sequence[int]]): The distiller's teachers (in
            order) and their per-level channels.
        device (torch.device): Where the targets go.

    Returns:
        Dict[str, List[Tensor]]: Per cached teacher (in ``teacher_dims`` order),
        its levels (B, C_l, h_l, w_l), float32; empty when the samples carry none.

    Raises:
        ValueError / KeyError: Samples that disagree with each other or with the
            teachers (names, number of levels, shapes, channels).
    """
    if not data_samples or not all('teacher_feats' in s for s in data_samples):
        return {}
    if len(data_samples) != batch_size:
        raise ValueError(f'{len(data_samples)} data samples for a batch of {batch_size} images')
    teacher_names = list(teacher_dims)
    names = set(data_samples[0].teacher_feats)
    for i, s in enumerate(data_samples):
        if set(s.teacher_feats) != names:
            raise KeyError(f'data sample {i} has cached teacher_feats for '
                           f'{sorted(s.teacher_feats)}, sample 0 for {sorted(names)}')
    unknown = names - set(teacher_names)
    if unknown:
        raise KeyError(f'cached teacher_feats name unknown teachers {sorted(unknown)}; '
                       f'the distiller has {teacher_names}')
    out: Dict[str, List[Tensor]] = {}
    for name in teacher_names:
        if name in names:
            out[name] = _stack_teacher(name, [list(s.teacher_feats[name]) for s in data_samples],
                                       list(teacher_dims[name]), device)
    return out


def _stack_teacher(name: str, levels: List[list], dims: List[int],
                   device: torch.device) -> List[Tensor]:
    """(B, C_l, h_l, w_l) float32 maps of one teacher from its per-sample levels."""
    num = len(dims)
    if any(len(lv) != num for lv in levels):
        raise ValueError(f'cached teacher_feats[{name!r}] has '
                         f'{[len(lv) for lv in levels]} levels per sample; the '
                         f'teacher has {num}')
    stacked = []
    for lvl in range(num):
        maps = [torch.as_tensor(lv[lvl]) for lv in levels]
        shape = tuple(maps[0].shape)
        if any(tuple(m.shape) != shape for m in maps) or len(shape) != 3:
            raise ValueError(f'cached teacher_feats[{name!r}] level {lvl}: expected '
                             f'equal (C, h, w) maps, got {[tuple(m.shape) for m in maps]}')
        if shape[0] != dims[lvl]:
            raise ValueError(f'cached teacher_feats[{name!r}] level {lvl} has '
                             f'{shape[0]} channels; the teacher has {dims[lvl]}')
        stacked.append(torch.stack(maps).to(device=device, dtype=torch.float32))
    return stacked
