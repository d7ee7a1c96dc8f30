"""Estimate PHI-S statistics of every teacher of a RADIO config.

Runs the config's teachers over batches of its training dataloader, accumulates
the mean and covariance of each teacher's dense features (every token) and of
its summary vectors, and stores the PHI-S transforms as
``{teacher: {'features': {mean, tx, scale, count}, 'summary': {...}}}``. Point
``model.phi_s.stats`` of the config at the file to distil in PHI-S space. The
estimation is :func:`sakbox.models.adaptor_heads.teacher_phi_s_stats`.

Example::

    python tools/analysis_tools/compute_phi_s_stats.py \\
        configs/radio/radio_vit-b_8xb32-300k_in1k-1024x1024.py \\
        --out work_dirs/phi_s/radio_vit-b_8xb32-300k_in1k-1024x1024.pth --num-batches 200
"""
import argparse
import copy
import os
import os.path as osp

import torch
from mmengine.config import DictAction
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from sakbox.models.adaptor_heads import teacher_phi_s_stats
from sakbox.registry import MODELS
from sakbox.utils.cli import load_config


def parse_args(argv=None):  # noqa: D103
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--out', required=True, help='output file (torch.save)')
    p.add_argument('--num-batches', type=int, default=100)
    p.add_argument('--max-tokens', type=int, default=4096,
                   help='random feature tokens kept per batch and teacher (0: all)')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def main(argv=None) -> dict:
    """Compute and save the statistics; return them."""
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg['phi_s'] = None  # raw teacher targets (the stats file may not exist yet)
    model_cfg['build_teachers'] = True
    torch.manual_seed(args.seed)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'sakbox')):
        model = MODELS.build(model_cfg).to(args.device).eval()
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=args.seed)
    stats = teacher_phi_s_stats(model, loader, args.num_batches, args.max_tokens, args.seed)
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    torch.save(stats, args.out)
    for name, kinds in stats.items():
        desc = ', '.join(f'{k}: {int(v["count"])} rows of {v["mean"].numel()} dims, '
                         f'scale {float(v["scale"]):.4g}' for k, v in kinds.items())
        print(f'{name}: {desc}')
    print(f'saved PHI-S statistics to {args.out}')
    return stats


if __name__ == '__main__':
    main()
