"""Mean Mixture-of-Representations router weights of a trained model over a dataset.

Example::

    python tools/analysis_tools/router_stats.py configs/sak_nyud.py work_dirs/x/best.pth \
        --split val --max-samples 200

Prints one row per ``task.level`` and one column per expert (``stem`` and each teacher).
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from sakbox.analysis.router_stats import router_stats  # noqa: E402
from sakbox.apis import init_model  # noqa: E402
from sakbox.engine.hooks import RouterWeightAccumulator  # noqa: E402
from sakbox.utils import fit_dataloader_workers, register_all_modules  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Router weight statistics over a dataset')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='trained checkpoint')
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='val')
    parser.add_argument('--max-samples', type=int, default=None,
                        help='stop after this many images (default: all)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='also write the means as JSON to this file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args(argv)


def main(argv=None) -> Dict[str, list]:
    """Entry point; returns the means as lists."""
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    model = init_model(args.config, args.checkpoint, device=args.device,
                       cfg_options=args.cfg_options)
    cfg = fit_dataloader_workers(model.cfg)
    loader_cfg = cfg.get(f'{args.split}_dataloader')
    if not loader_cfg:
        raise KeyError(f'{args.config} has no {args.split}_dataloader')
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'sakbox')):
        loader = Runner.build_dataloader(loader_cfg)
    means = router_stats(model, loader, args.max_samples)
    experts = getattr(model, 'expert_names', [])
    print(f'mean router weights, {args.split} split'
          + (f', first {args.max_samples} samples' if args.max_samples else ''))
    print(RouterWeightAccumulator.format_table(means, experts))
    out = {k: v.tolist() for k, v in means.items()}
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(experts=experts, means=out), f, indent=2)
    return out


if __name__ == '__main__':
    main()
