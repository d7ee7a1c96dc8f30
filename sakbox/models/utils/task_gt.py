"""Stack per-sample task ground truth into padded batch tensors."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ...structures.tasks import IGNORE_INDEX, find_task


def gt_pad_value(task: str, dtype: Optional[torch.dtype] = None) -> float:
    """Return the value that marks padded / missing ground truth of ``task``.

    A registered task pads with its spec's ``pad_value`` (built-in label tasks
    255 = ignore, depth 0 (``<= 0`` is invalid), normals the zero vector).
    Unknown tasks are decided by ``dtype``: integer maps pad with 255, float
    maps with 0.

    Args:
        task (str): Task name.
        dtype (torch.dtype, optional): dtype of the ground truth.

    Returns:
        float: The pad value.
    """
    spec = find_task(task)
    if spec is not None:
        return spec.pad_value
    if dtype is not None and not dtype.is_floating_point:
        return IGNORE_INDEX
    return 0


def stack_task_gt(data_samples: Sequence, task: str,
                  size: Tuple[int, int]) -> Tensor:
    """Pad every sample's ``gt_<task>`` to ``size`` and stack them.

    Each map is placed where the data preprocessor placed the sample's image:
    at the ``batch_offset`` (top, left) of its metainfo ((0, 0), i.e. padding
    at the bottom and right, when absent). A sample without ``gt_<task>``
    becomes an all-invalid map so that it does not contribute to the loss.

    Args:
        data_samples (Sequence[MultiTaskDataSample]): Samples of the batch.
        task (str): Task name, e.g. ``'semseg'``.
        size (Tuple[int, int]): The padded batch input size (H, W).

    Returns:
        Tensor: (B, C, H, W); int64 for label tasks, float32 for float tasks
        (an unregistered task keeps its ground truth's dtype).

    Raises:
        KeyError: If no sample has ``gt_<task>``.
        ValueError: If a sample's map does not fit in ``size`` at its offset
            or has an unexpected number of dimensions.
    """
    H, W = int(size[0]), int(size[1])
    key = f'gt_{task}'
    present = [s.get(key).data for s in data_samples if key in s]
    if not present:
        raise KeyError(f'no data sample in the batch has {key!r}; '
                       f'the first one has {sorted(data_samples[0].keys())}')
    ref = present[0]
    ref = ref if ref.dim() == 3 else ref[None]
    dtype, device, channels = ref.dtype, ref.device, ref.shape[0]
    spec = find_task(task)
    if spec is not None:
        dtype = torch.int64 if spec.is_label else torch.float32
    pad_value = gt_pad_value(task, dtype)

    out = torch.full((len(data_samples), channels, H, W), pad_value, dtype=dtype,
                     device=device)
    for i, sample in enumerate(data_samples):
        if key not in sample:
            continue
        gt = sample.get(key).data
        if gt.dim() == 2:
            gt = gt[None]
        if gt.dim() != 3 or gt.shape[0] != channels:
            raise ValueError(
                f'{key} of sample {i} ({_name(sample)}) has shape {tuple(gt.shape)}; '
                f'expected ({channels}, h, w) like the other samples')
        h, w = gt.shape[-2:]
        top, left = (int(v) for v in sample.metainfo.get('batch_offset', (0, 0))[:2])
        if top < 0 or left < 0 or top + h > H or left + w > W:
            raise ValueError(
                f'{key} of sample {i} ({_name(sample)}) is {h}x{w} at batch_offset '
                f'({top}, {left}), which does not fit in the batch input size {H}x{W}; the '
                'pipeline must crop/resize the ground truth together with the image')
        out[i, :, top:top + h, left:left + w] = gt.to(device=device, dtype=dtype)
    return out


def resize_logits(logits: Tensor, size: Tuple[int, int],
                  align_corners: bool = False) -> Tensor:
    """Bilinearly resize (B, K, h, w) logits to ``size`` (no-op if equal)."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=tuple(int(s) for s in size), mode='bilinear',
                         align_corners=align_corners)


def _name(sample) -> str:
    meta = sample.metainfo
    return str(meta.get('img_path', meta.get('img_id', '?')))
