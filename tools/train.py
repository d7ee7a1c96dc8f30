"""Train a sakbox model.

``load_from`` is loaded non-strictly, as MMEngine does, and the log says how
many model tensors it set (``CheckpointLoadReportHook``); an unreadable
``load_from`` / ``--resume`` file fails at once with a message naming it.

Example::

    python tools/train.py configs/sak/sak_vit-tiny_synthetic-nyud.py
    bash tools/dist_train.sh configs/sak_nyud.py 8 --amp
"""
import argparse
import os.path as osp
import sys

# Allow `python tools/train.py` from a source checkout without installing.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from sakbox.utils import adapt_cfg_to_device, enable_amp, init_cpu_distributed, register_all_modules  # noqa: E402
from sakbox.utils.checkpoint import CheckpointNotFoundError  # noqa: E402
from sakbox.utils.cli import (  # noqa: E402
    add_common_args,
    add_compile_arg,
    add_custom_hook,
    apply_compile_arg,
    check_training_checkpoint,
    load_cfg,
    parse_with_common_args,
    run_cli,
)


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


def build_cfg(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line overrides."""
    cfg = load_cfg(args)
    if args.amp:
        enable_amp(cfg, args.amp_dtype)
    apply_compile_arg(cfg, args.compile)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise CheckpointNotFoundError(f'--resume checkpoint not found: {args.resume}',
                                          args.resume)
        cfg.resume = True
        cfg.load_from = args.resume
    # MMEngine loads `load_from` non-strictly; this logs how much of it fitted.
    add_custom_hook(cfg, dict(type='CheckpointLoadReportHook'))
    return adapt_cfg_to_device(cfg, args.launcher)


def main(argv=None) -> None:
    """Entry point."""
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    init_cpu_distributed(args.launcher)
    cfg = build_cfg(args)
    check_training_checkpoint(cfg)  # a bad load_from / resume file fails before the build
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else _build_runner(cfg)
    runner.train()


def _build_runner(cfg: Config):
    from sakbox.registry import RUNNERS
    return RUNNERS.build(cfg)


if __name__ == '__main__':
    run_cli(main, 'tools/train.py')
