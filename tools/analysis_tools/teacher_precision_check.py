"""How far bf16 / fp16 distillation targets are from fp32 ones, and how much faster.

Builds the config's distiller with its teachers (weights as configured; add
``--cfg-options`` to switch pretrained weights off, e.g. on a machine without
internet), runs every teacher on the same batch once per precision through
:meth:`BaseDistiller.forward_teachers` (exactly the training code path:
inference mode + the teachers' own autocast), and prints per teacher and level
the relative L2 error, the mean per-token cosine similarity to fp32, the largest
absolute difference, the distillation loss between the low-precision and the
fp32 targets (what a perfect student would pay for the rounding) and the
teacher time per precision.

Example::

    python tools/analysis_tools/teacher_precision_check.py configs/sak_nyud.py \\
        --shape 448 576 --batch 2 --random-weights

Images are read from ``--images`` (a folder; resized to ``--shape``) or drawn
at random.
"""
import argparse
import copy
import glob
import json
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

from sakbox.models.losses import feature_cosine_similarity  # noqa: E402
from sakbox.registry import MODELS  # noqa: E402
from sakbox.utils import register_all_modules  # noqa: E402
from sakbox.utils.cli import load_config  # noqa: E402
from sakbox.utils.pretrained import disable_pretrained  # noqa: E402

PRECISIONS = ('fp32', 'bf16', 'fp16')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    p = argparse.ArgumentParser(description='bf16/fp16 vs fp32 teacher targets')
    p.add_argument('config', help='config with a distiller (`model.teachers`)')
    p.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'), default=None,
                   help='input size (default: the student img_size, else 224 224)')
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--precisions', nargs='+', default=['bf16'], choices=PRECISIONS[1:],
                   help='low precisions compared with fp32')
    p.add_argument('--images', help='folder of images (default: random inputs)')
    p.add_argument('--random-weights', action='store_true',
                   help='switch off every pretrained/checkpoint load (nothing downloaded)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', help='also write the table as JSON')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings')
    return p.parse_args(argv)


def _default_shape(model_cfg: dict) -> List[int]:
    size = (model_cfg.get('student') or {}).get('img_size')
    if size is None:
        return [224, 224]
    return [int(size), int(size)] if isinstance(size, int) else [int(s) for s in size]


def load_images(folder: Optional[str], batch: int, shape: List[int], mean, std,
                seed: int) -> torch.Tensor:
    """A (B, 3, H, W) batch normalised like the student's data preprocessor does."""
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


def compare(model, inputs: torch.Tensor, precisions: List[str]) -> List[Dict]:
    """One row per (precision, teacher, level) plus the per-precision teacher time."""
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


def main(argv: Optional[List[str]] = None) -> Dict:
    """Entry point; returns the results (also printed)."""
    args = parse_args(argv)
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    model_cfg = copy.deepcopy(cfg.model)
    if not model_cfg.get('teachers'):
        raise KeyError(f'{args.config}: model.teachers is empty; nothing to compare')
    if args.random_weights:
        disable_pretrained(model_cfg)
    model_cfg['build_teachers'] = True
    torch.manual_seed(args.seed)
    with DefaultScope.overwrite_default_scope('sakbox'):
        model = MODELS.build(model_cfg).eval()
    shape = list(args.shape) if args.shape else _default_shape(model_cfg)
    pre = model_cfg.get('data_preprocessor') or {}
    inputs = load_images(args.images, args.batch, shape, pre.get('mean', [0., 0., 0.]),
                         pre.get('std', [1., 1., 1.]), args.seed)
    rows, seconds = compare(model, inputs, args.precisions)

    print(f'{args.config}: batch {args.batch} at {shape[0]}x{shape[1]}, '
          f'{"random" if args.images is None else args.images} inputs')
    head = (f'{"precision":>9} {"teacher":>10} {"lvl":>3} {"rel L2":>9} {"cosine":>9} '
            f'{"max |d|":>9} {"mean |t|":>9} {"loss(t_lp, t_32)":>16}')
    print(head)
    print('-' * len(head))
    for r in rows:
        loss = '-' if r['distill_loss'] is None else f'{r["distill_loss"]:.3e}'
        print(f'{r["precision"]:>9} {r["teacher"]:>10} {r["level"]:>3} {r["rel_l2"]:9.2e} '
              f'{r["cosine"]:9.6f} {r["max_abs"]:9.3e} {r["ref_abs_mean"]:9.3e} {loss:>16}')
    print('teacher time for the batch: ' + ', '.join(
        f'{p} {s:.2f} s' for p, s in seconds.items()) + ''.join(
        f'; {p} speed-up {seconds["fp32"] / seconds[p]:.2f}x' for p in args.precisions))
    result = dict(config=args.config, shape=shape, batch=args.batch, rows=rows,
                  seconds=seconds)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == '__main__':
    main()
