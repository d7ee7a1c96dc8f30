"""Evaluate a trained sakbox model.

Prints a metrics table and writes the metrics as JSON in the work dir. The
checkpoint is loaded strictly: one that does not fit the config's model
(missing, unexpected or mis-shaped keys, e.g. an unconverted official release)
stops the tool with a message naming the file and the keys; ``--non-strict``
evaluates what fits, with a warning and the counts in the metrics JSON.

Example::

    python tools/test.py configs/sak/sak_vit-tiny_synthetic-nyud.py work_dirs/x/iter_600.pth
    bash tools/dist_test.sh configs/sak_nyud.py ckpt.pth 8 --show-dir vis
"""
import argparse
import json
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from sakbox.apis import load_model_weights, prepare_model_cfg_for_test  # noqa: E402
from sakbox.utils import adapt_cfg_to_device, init_cpu_distributed, register_all_modules  # noqa: E402
from sakbox.utils.checkpoint import CheckpointNotFoundError, check_checkpoint_file  # noqa: E402
from sakbox.utils.cli import (  # noqa: E402
    add_common_args,
    add_compile_arg,
    add_non_strict_arg,
    apply_compile_arg,
    load_cfg,
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


def build_cfg(args: argparse.Namespace) -> Config:
    """Load the config, drop training-only parts, apply the overrides."""
    if not osp.isfile(args.checkpoint):
        raise CheckpointNotFoundError(f'checkpoint not found: {args.checkpoint}',
                                      args.checkpoint)
    # Testing never needs the teachers (they are neither built nor loaded) nor
    # any initialisation weights (hub or stage-1 files): the checkpoint has all.
    cfg = load_cfg(args, prepare=lambda c: prepare_model_cfg_for_test(c.model,
                                                                      has_checkpoint=True))
    # The Runner would load `load_from` non-strictly (a checkpoint that fits
    # nothing evaluates random weights); main() loads it strictly instead.
    cfg.load_from = None
    cfg.resume = False
    apply_compile_arg(cfg, args.compile)
    if args.show_dir or args.save_edge_png:
        hooks = cfg.setdefault('custom_hooks', [])
        hooks.append(dict(type='MultiTaskVisualizationHook', enable=args.show_dir is not None,
                          out_dir=args.show_dir, edge_png_dir=args.save_edge_png))
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must end with .pkl, got {args.out}')
        evaluator = cfg.test_evaluator
        evaluator = list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]
        evaluator.append(dict(type='DumpResults', out_file_path=args.out))
        cfg.test_evaluator = evaluator
    return adapt_cfg_to_device(cfg, args.launcher)


def format_metrics(metrics: dict) -> str:
    """Render ``{name: value}`` as an aligned two-column table."""
    if not metrics:
        return '(no metrics)'
    width = max(len(k) for k in metrics)
    lines = [f'{"metric".ljust(width)}  value', f'{"-" * width}  ------']
    for key in sorted(metrics):
        value = metrics[key]
        text = f'{value:.4f}' if isinstance(value, float) else str(value)
        lines.append(f'{key.ljust(width)}  {text}')
    return '\n'.join(lines)


def main(argv=None) -> dict:
    """Entry point; returns the metrics."""
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    init_cpu_distributed(args.launcher)
    cfg = build_cfg(args)
    check_checkpoint_file(args.checkpoint)  # an unreadable file fails before the build
    runner = Runner.from_cfg(cfg)
    # Runner.test() never re-initialises weights, so these are the ones evaluated.
    fit = load_model_weights(runner.model, args.checkpoint, strict=not args.non_strict,
                             logger=runner.logger)
    metrics = runner.test()
    metrics = {k: (float(v) if hasattr(v, '__float__') else v) for k, v in metrics.items()}
    if is_main_process():
        print(format_metrics(metrics), flush=True)
        stamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
        payload = dict(config=args.config, checkpoint=args.checkpoint, metrics=metrics)
        if not fit.complete:
            payload['partial_weights'] = dict(
                loaded=len(fit.loaded), model_tensors=fit.num_model, missing=len(fit.missing),
                unexpected=len(fit.unexpected), mismatched=len(fit.mismatched))
        for name in (f'metrics_{stamp}.json', 'metrics.json'):
            with open(osp.join(cfg.work_dir, name), 'w') as f:
                json.dump(payload, f, indent=2, default=str)
        print(f'metrics written to {osp.join(cfg.work_dir, "metrics.json")}', flush=True)
    return metrics


if __name__ == '__main__':
    run_cli(main, 'tools/test.py')
