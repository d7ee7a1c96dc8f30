"""Evaluate a trained sakbox model.

Prints a metrics table and writes the metrics as JSON in the work dir. The
checkpoint is loaded strictly: one that does not fit the config's model
(missing, unexpected or mis-shaped keys, e.g. an unconverted official release)
stops the tool with a message naming the file and the keys; ``--non-strict``
evaluates what fits, with a warning and the counts in the metrics JSON. The
runner setup is :mod:`sakbox.apis.runner`.

Example::

    python tools/test.py configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py \
        work_dirs/x/iter_600.pth
    bash tools/dist_test.sh configs/sak_nyud.py ckpt.pth 8 --show-dir vis
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.dist import is_main_process  # noqa: E402

from sakbox.apis.runner import format_metrics, metrics_payload, run_test, write_metrics_json  # noqa: E402
from sakbox.utils.cli import (  # noqa: E402
    add_common_args,
    add_compile_arg,
    add_non_strict_arg,
    parse_with_common_args,
    run_cli,
)


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Test (and evaluate) a sakbox model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and the metrics JSON')
    parser.add_argument('--out', help='save the raw predictions to this .pkl file')
    parser.add_argument('--show-dir', help='save coloured visualisations of every task here')
    parser.add_argument('--save-edge-png', metavar='DIR',
                        help='write soft edge maps as 8-bit PNGs named by image id')
    add_non_strict_arg(parser)
    add_compile_arg(parser)
    add_common_args(parser)
    return parse_with_common_args(parser, argv)


def main(argv=None) -> dict:
    """Entry point; returns the metrics (the work is :func:`sakbox.apis.runner.run_test`)."""
    args = parse_args(argv)
    metrics, fit, cfg = run_test(
        args.config, args.checkpoint, non_strict=args.non_strict, work_dir=args.work_dir,
        out=args.out, show_dir=args.show_dir, save_edge_png=args.save_edge_png,
        compile=args.compile, cfg_options=args.cfg_options, launcher=args.launcher)
    if is_main_process():
        print(format_metrics(metrics), flush=True)
        path = write_metrics_json(cfg.work_dir,
                                  metrics_payload(args.config, args.checkpoint, metrics, fit))
        print(f'metrics written to {path}', flush=True)
    return metrics


if __name__ == '__main__':
    run_cli(main, 'tools/test.py')
