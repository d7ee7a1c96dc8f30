"""Train a sakbox model.

``load_from`` is loaded non-strictly, as MMEngine does, and the log says how
many model tensors it set (``CheckpointLoadReportHook``); an unreadable
``load_from`` / ``--resume`` file fails at once with a message naming it. The
runner setup is :mod:`sakbox.apis.runner`.

Example::

    python tools/train.py configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py
    bash tools/dist_train.sh configs/sak_nyud.py 8 --amp
"""
import argparse
import os.path as osp
import sys

# Allow `python tools/train.py` from a source checkout without installing.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sakbox.apis.runner import run_train  # noqa: E402
from sakbox.utils.cli import add_common_args, add_compile_arg, parse_with_common_args, run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Train a sakbox model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CKPT; without a path, resume from the latest checkpoint in '
        'the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: bf16 autocast on CPU, bf16/fp16 on CUDA')
    parser.add_argument('--amp-dtype', choices=['bfloat16', 'float16'], default=None,
                        help='override the autocast dtype chosen by --amp')
    add_compile_arg(parser)
    add_common_args(parser)
    return parse_with_common_args(parser, argv)


def main(argv=None) -> None:
    """Entry point (the work is :func:`sakbox.apis.runner.run_train`)."""
    args = parse_args(argv)
    run_train(args.config, work_dir=args.work_dir, resume=args.resume, amp=args.amp,
              amp_dtype=args.amp_dtype, compile=args.compile, cfg_options=args.cfg_options,
              launcher=args.launcher)


if __name__ == '__main__':
    run_cli(main, 'tools/train.py')
