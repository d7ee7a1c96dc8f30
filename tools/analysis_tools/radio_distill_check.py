"""Check that RADIO distillation works: a tiny student learns fixed random teachers.

The check and what it measures are described in :mod:`sakbox.analysis.radio_distill_check`.
Example::

    python tools/analysis_tools/radio_distill_check.py --iters 600 --out check.json
"""
import argparse
import os.path as osp
import sys
from typing import Dict

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from sakbox.analysis.radio_distill_check import run  # noqa: E402


def _table(title: str, res: Dict[str, Dict[str, float]]) -> str:
    keys = ['summary_cos_raw', 'spatial_cos_raw', 'summary_cos_phi_s', 'spatial_cos_phi_s']
    lines = [title, f'{"teacher":<8}' + ''.join(f'{k:>20}' for k in keys)]
    for name, d in res.items():
        lines.append(f'{name:<8}' + ''.join(f'{d.get(k, float("nan")):>20.4f}' for k in keys))
    return '\n'.join(lines)


def parse_args():  # noqa: D103
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--student', choices=['vit', 'eradio'], default='vit')
    p.add_argument('--teachers', nargs='+', default=['vit', 'clip', 'cnn'])
    p.add_argument('--iters', type=int, default=600)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--img-size', type=int, default=48)
    p.add_argument('--heldout', type=int, default=128)
    p.add_argument('--lr', type=float, default=2e-3)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='cpu')
    p.add_argument('--out', help='write the numbers as JSON')
    return p.parse_args()


def main() -> None:  # noqa: D103
    args = parse_args()
    res = run(args.student, args.teachers, args.iters, args.batch, args.img_size, args.heldout,
              seed=args.seed, lr=args.lr, log_every=max(1, args.iters // 10), out=args.out,
              device=args.device)
    print(_table('untrained student (held-out photos):', res['untrained']))
    print(_table(f'trained student, {res["iters"]} iters in {res["train_seconds"]:.0f}s '
                 '(held-out photos):', res['trained']))


if __name__ == '__main__':
    main()
