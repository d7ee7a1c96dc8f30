"""Browse a dataset as the model sees it: the augmented image and every task's GT.

Example::

    python tools/analysis_tools/browse_dataset.py configs/sak/sak_vit-tiny_synthetic-nyud.py \\
        --split train --output-dir work_dirs/browse --not-show --max-samples 20

Each sample of the split's dataset runs through the config's pipeline (random
augmentations included, so the train split differs from run to run) and is drawn by
:class:`sakbox.visualization.MultiTaskVisualizer`: the packed image, then one tile per
task with its ground truth (ignored pixels black / grey). ``--output-dir`` writes one
``<index>_<img_id>.png`` panel per sample; without ``--not-show`` each panel is also
shown for ``--show-interval`` seconds. The logic is :mod:`sakbox.analysis.dataset_browser`.
"""
import argparse
import os.path as osp
import sys
from typing import List

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402

from sakbox.analysis.dataset_browser import (  # noqa: E402
    SPLITS,
    browse_dataset,
    build_browse_visualizer,
    build_split_dataset,
)
from sakbox.utils import register_all_modules  # noqa: E402
from sakbox.utils.cli import load_config  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Draw dataset samples with their GT')
    parser.add_argument('config', help='config file')
    parser.add_argument('--split', choices=SPLITS, default='train',
                        help='which dataloader\'s dataset and pipeline (default: train)')
    parser.add_argument('--output-dir', metavar='D', help='write one panel per sample here')
    parser.add_argument('--not-show', action='store_true', help='do not open windows')
    parser.add_argument('--show-interval', type=float, default=2.0, metavar='S',
                        help='seconds each shown panel stays (0: until a key press)')
    parser.add_argument('--max-samples', type=int, metavar='N',
                        help='stop after N samples (default: the whole split)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. '
                        'train_dataloader.dataset.data_root=data/my_nyud')
    args = parser.parse_args(argv)
    if args.not_show and not args.output_dir:
        parser.error('--not-show without --output-dir draws nothing')
    return args


def main(argv=None) -> List[str]:
    """Entry point; returns the files written."""
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options)
    dataset = build_split_dataset(cfg, args.split)
    vis = build_browse_visualizer(cfg, getattr(dataset, 'metainfo', None))
    written = browse_dataset(dataset, vis, output_dir=args.output_dir, show=not args.not_show,
                             show_interval=args.show_interval, max_samples=args.max_samples)
    if args.output_dir:
        print(f'{len(written)} panels of the {args.split} split written to {args.output_dir}')
    return written


if __name__ == '__main__':
    main()
