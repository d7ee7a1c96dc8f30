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
import json
import os.path as osp
import sys
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402

from sakbox.analysis.teacher_precision_check import (  # noqa: E402
    build_teacher_check_model,
    compare_teacher_precisions,
    default_input_shape,
    load_images,
)
from sakbox.utils import register_all_modules  # noqa: E402
from sakbox.utils.cli import load_config  # noqa: E402

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


def main(argv: Optional[List[str]] = None) -> Dict:
    """Entry point; returns the results (also printed)."""
    args = parse_args(argv)
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    model = build_teacher_check_model(cfg.model, args.config, args.random_weights, args.seed)
    shape = list(args.shape) if args.shape else default_input_shape(cfg.model)
    pre = cfg.model.get('data_preprocessor') or {}
    inputs = load_images(args.images, args.batch, shape, pre.get('mean', [0., 0., 0.]),
                         pre.get('std', [1., 1., 1.]), args.seed)
    rows, seconds = compare_teacher_precisions(model, inputs, args.precisions)

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
