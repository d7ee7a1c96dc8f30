"""Print a config with every ``_base_`` merged and the overrides applied.

Example::

    python tools/misc/print_config.py configs/sak_nyud.py
    python tools/misc/print_config.py configs/sak/sak_vit-b_nyud.py \\
        --cfg-options model.student.drop_path_rate=0.2 --save-path work_dirs/resolved.yaml

The config is loaded as ``tools/train.py`` loads it
(:func:`sakbox.utils.cli.load_config`: ``--cfg-options`` merged, renamed sakbox types
refused with their new names, ``persistent_workers`` off where ``num_workers=0``), and
``cfg.pretty_text`` goes to stdout, so ``print_config.py CONFIG > resolved.py`` is a
config of its own. ``--save-path`` also writes it, as Python, JSON or YAML by the
file's suffix (:func:`sakbox.utils.config_dump.save_config`).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402

from sakbox.utils.cli import load_config  # noqa: E402
from sakbox.utils.config_dump import CONFIG_SUFFIXES, save_config  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Print the fully resolved config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_cfg.max_iters=100')
    parser.add_argument('--save-path', metavar='FILE',
                        help=f'also write the resolved config here ({", ".join(CONFIG_SUFFIXES)}'
                        ' by suffix)')
    return parser.parse_args(argv)


def main(argv=None) -> Config:
    """Entry point; returns the resolved config."""
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    print(cfg.pretty_text)
    if args.save_path:
        save_config(cfg, args.save_path)
        print(f'saved the resolved config to {args.save_path}', file=sys.stderr)
    return cfg


if __name__ == '__main__':
    main()
