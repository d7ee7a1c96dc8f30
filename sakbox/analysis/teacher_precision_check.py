"""How far bf16 / fp16 distillation targets are from fp32 ones, and how much faster.

The logic of ``tools/analysis_tools/teacher_precision_check.py``.
"""
import copy
import glob
import os.path as osp
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.registry import DefaultScope

from sakbox.models.losses import feature_cosine_similarity
from sakbox.registry import MODELS
from sakbox.utils.pretrained import disable_pretrained

__all__ = ['default_input_shape', 'load_images', 'build_teacher_check_model',
           'compare_teacher_precisions']


def default_input_shape(model_cfg: dict) -> List[int]:
    """[H, W]: the student's ``img_size``, else 224 x 224."""
    size = (model_cfg.get('student') or {}).get('img_size')
    if size is None:
        return [224, 224]
    return [int(size), int(size)] if isinstance(size, int) else [int(s) for s in size]


def load_images(folder: Optional[str], batch: int, shape: List[int], mean, std,
                seed: int) -> torch.Tensor:
    """A (B, 3, H, W) batch normalised like the student's data preprocessor does.

    Args:
        folder: Images (jpg / png, searched recursively; the first ``batch``
            sorted by name, resized to ``shape``); None draws a random batch.
        batch: B.
        shape: [H, W].
        mean: RGB mean (0-255) of the normalisation.
        std: RGB std (0-255).
        seed: Seed of the random batch.

    Returns:
        Tensor: (B, 3, H, W) float32.

    Raises:
        FileNotFoundError: ``folder`` holds fewer than ``batch`` images.
    """
    if folder is None:
        g = torch.Generator().manual_seed(seed)
        return torch.randn(batch, 3, *shape, generator=g)
    import mmcv
    files = sorted(f for ext in ('jpg', 'jpeg', 'png') for f in
                   glob.glob(osp.join(folder, '**', f'*.{ext}'), recursive=True))
    if len(files) < batch:
        raise FileNotFoundError(f'--images {folder}: found {len(files)} images, need {batch}')
    imgs = [mmcv.imresize(mmcv.imread(f, channel_order='rgb'), tuple(shape[::-1]))
            for f in files[:batch]]
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float()
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def compare_teacher_precisions(model, inputs: torch.Tensor, precisions: List[str]
                               ) -> Tuple[List[Dict], Dict[str, float]]:
    """Distillation targets in each of ``precisions`` against the fp32 ones.

    Every teacher runs on ``inputs`` through ``model.forward_teachers`` (the
    training code path: inference mode + the teachers' own autocast) once per
    precision, after a one-image warm-up.

    Args:
        model: A distiller with built teachers (``teacher_precision`` is set).
        inputs: (B, 3, H, W) normalised batch.
        precisions: Low precisions to compare, e.g. ``['bf16']``.

    Returns:
        tuple: One row per (precision, teacher, level) with ``rel_l2``,
        ``cosine``, ``max_abs``, ``ref_abs_mean`` and ``distill_loss`` (None
        without a distillation loss), and the teacher seconds per precision
        (fp32 included).
    """
    rows = []
    targets, seconds = {}, {}
    for prec in ['fp32'] + list(precisions):
        model.teacher_precision = prec
        model.forward_teachers(inputs[:1])  # warm-up (oneDNN kernels, caches)
        start = time.perf_counter()
        targets[prec] = model.forward_teachers(inputs)
        seconds[prec] = time.perf_counter() - start
    ref = targets['fp32']
    for prec in precisions:
        for name in model.teacher_names:
            losses = model.distill_loss(targets[prec][name], ref[name]) \
                if model.distill_loss is not None else [None] * len(ref[name])
            for lvl, (low, hi) in enumerate(zip(targets[prec][name], ref[name])):
                rows.append(dict(
                    precision=prec, teacher=name, level=lvl,
                    rel_l2=float((low - hi).norm() / hi.norm().clamp_min(1e-12)),
                    cosine=float(feature_cosine_similarity(low, hi).mean()),
                    max_abs=float((low - hi).abs().max()),
                    ref_abs_mean=float(hi.abs().mean()),
                    distill_loss=None if losses[lvl] is None else float(losses[lvl])))
    return rows, seconds


def build_teacher_check_model(model_cfg: dict, source: str, random_weights: bool = False,
                              seed: int = 0):
    """The config's distiller with its teachers built, in eval mode.

    Args:
        model_cfg: ``cfg.model`` (copied, not modified).
        source: The config file, named in errors.
        random_weights: Switch every pretrained / checkpoint load off.
        seed: ``torch.manual_seed`` before the build.

    Returns:
        nn.Module: The distiller.

    Raises:
        KeyError: ``model.teachers`` is empty.
    """
    model_cfg = copy.deepcopy(model_cfg)
    if not model_cfg.get('teachers'):
        raise KeyError(f'{source}: model.teachers is empty; nothing to compare')
    if random_weights:
        disable_pretrained(model_cfg)
    model_cfg['build_teachers'] = True
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('sakbox'):
        return MODELS.build(model_cfg).eval()
