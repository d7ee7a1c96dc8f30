"""Train and test several configs over several seeds and compare them, with Delta_m.

Every (config, seed) pair is trained with ``tools/train.py`` (``--cfg-options
randomness.seed=S``) in ``WORK_DIR/<config name>/seed<S>`` and its last checkpoint
tested with ``tools/test.py`` in ``.../seed<S>/test``, which writes ``metrics.json``.
The tool then prints, per config, the mean ± sample standard deviation over the
seeds of every metric, and Delta_m of each config relative to the first one (the
reference), as :mod:`sakbox.evaluation.compare` computes it: the reference's
seed-mean metrics stand in for the single-task baselines, Delta_m is computed
per seed and then averaged; the reference's own spread shows the seed noise.

Example::

    python tools/analysis_tools/compare_configs.py \\
        configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py \\
        configs/sak/sak_vit-tiny-lighthead_1xb4-600it_synthetic-nyud-96x128.py \\
        --seeds 0 1 2 --work-dir work_dirs/compare_heads --skip-existing \\
        --json work_dirs/compare_heads/summary.json
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from sakbox.evaluation.compare import format_tables, summarize  # noqa: E402
from sakbox.evaluation.metric_files import load_metrics  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description='Train/test configs over seeds; mean ± std of every metric and Delta_m '
        'relative to the first config')
    parser.add_argument('configs', nargs='+', help='config files; the first is the reference')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                        help='seeds (randomness.seed) of every config (default: 0 1 2)')
    parser.add_argument('--work-dir', default='work_dirs/compare',
                        help='root of the per-config, per-seed work dirs')
    parser.add_argument('--names', nargs='+', default=None,
                        help='labels of the configs in the tables (default: file names)')
    parser.add_argument('--skip-existing', action='store_true',
                        help='reuse runs whose test metrics.json exists; resume runs that '
                        'have a checkpoint but no metrics')
    parser.add_argument('--collect-only', action='store_true',
                        help='train and test nothing: tabulate the metrics already there')
    parser.add_argument('--delta-keys', nargs='+', default=None,
                        help='metric keys of Delta_m (default: the primary metric of every '
                        'task the reference reports, e.g. semseg/mIoU depth/RMSE)')
    parser.add_argument('--json', default=None, help='also write the summary to this file')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='overrides passed to every train and test run')
    return parser.parse_args(argv)


def config_name(config: str) -> str:
    """The label of a config: its file name without ``.py``."""
    return osp.splitext(osp.basename(config))[0]


def run_dir(work_dir: str, name: str, seed: int) -> str:
    """Work dir of one training run."""
    return osp.join(work_dir, name, f'seed{seed}')


def metrics_path(work_dir: str, name: str, seed: int) -> str:
    """Where ``tools/test.py`` writes the metrics of one run."""
    return osp.join(run_dir(work_dir, name, seed), 'test', 'metrics.json')


def training_finished(config: str, last_checkpoint: str, cfg_options: Sequence[str]) -> bool:
    """Whether ``last_checkpoint`` names the final checkpoint of an iteration-based run.

    Resuming a finished MMEngine run would first replay the whole data loader to skip
    the trained iterations, so a run whose last checkpoint is ``iter_<max_iters>.pth``
    is tested without calling ``tools/train.py`` again.

    Args:
        config: Config file of the run.
        last_checkpoint: The run's ``last_checkpoint`` file.
        cfg_options: ``KEY=VALUE`` overrides of the run (they may change max_iters).

    Returns:
        bool: False for epoch-based configs and unfinished runs.
    """
    from mmengine.config import Config, DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--options', nargs='*', action=DictAction, default={})
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parser.parse_args(['--options', *cfg_options]).options or {})
    max_iters = (cfg.get('train_cfg') or {}).get('max_iters')
    with open(last_checkpoint) as f:
        checkpoint = f.read().strip()
    return max_iters is not None and osp.isfile(checkpoint) \
        and osp.basename(checkpoint) == f'iter_{max_iters}.pth'


def train_and_test(config: str, seed: int, out_dir: str, cfg_options: Sequence[str],
                   skip_existing: bool) -> str:
    """Train (unless reusable), test and return the path of the metrics JSON.

    Args:
        config: Config file.
        seed: ``randomness.seed`` of the run.
        out_dir: The run's work dir; the test writes to ``out_dir/test``.
        cfg_options: ``KEY=VALUE`` overrides for both tools.
        skip_existing: Reuse a finished test; resume an unfinished training.

    Returns:
        str: ``out_dir/test/metrics.json``.
    """
    metrics_file = osp.join(out_dir, 'test', 'metrics.json')
    if skip_existing and osp.isfile(metrics_file):
        print(f'[compare] reusing {metrics_file}', flush=True)
        return metrics_file
    last = osp.join(out_dir, 'last_checkpoint')
    train = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', out_dir,
             '--cfg-options', f'randomness.seed={seed}', *cfg_options]
    if skip_existing and osp.isfile(last) and training_finished(config, last, cfg_options):
        print(f'[compare] reusing the finished training in {out_dir}', flush=True)
    else:
        if skip_existing and osp.isfile(last):
            train.append('--resume')
        print(f'[compare] {" ".join(train)}', flush=True)
        subprocess.run(train, check=True)
    if not osp.isfile(last):
        raise FileNotFoundError(f'{config} seed {seed}: training wrote no {last}')
    with open(last) as f:
        checkpoint = f.read().strip()
    test = [sys.executable, osp.join(ROOT, 'tools', 'test.py'), config, checkpoint,
            '--work-dir', osp.join(out_dir, 'test')]
    if cfg_options:
        test += ['--cfg-options', *cfg_options]
    print(f'[compare] {" ".join(test)}', flush=True)
    subprocess.run(test, check=True)
    if not osp.isfile(metrics_file):
        raise FileNotFoundError(f'{config} seed {seed}: testing wrote no {metrics_file}')
    return metrics_file


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Entry point; returns the summary (see :func:`summarize`)."""
    args = parse_args(argv)
    names = args.names or [config_name(c) for c in args.configs]
    if len(names) != len(args.configs) or len(set(names)) != len(names):
        raise ValueError(f'need one distinct name per config: configs {args.configs}, names '
                         f'{names} (pass --names)')
    runs: Dict[str, List[Dict[str, float]]] = OrderedDict()
    for config, name in zip(args.configs, names):
        runs[name] = []
        for seed in args.seeds:
            if args.collect_only:
                path = metrics_path(args.work_dir, name, seed)
                if not osp.isfile(path):
                    print(f'[compare] {name} seed {seed}: no {path}, left out', flush=True)
                    continue
            else:
                path = train_and_test(config, seed, run_dir(args.work_dir, name, seed),
                                      args.cfg_options, args.skip_existing)
            runs[name].append(load_metrics(path))
    summary = summarize(runs, args.delta_keys)
    summary['seeds'] = list(args.seeds)
    summary['config_files'] = dict(zip(names, args.configs))
    print(f'\nMean ± sample std over seeds {args.seeds}; Δm relative to the mean of '
          f'`{summary["reference"]}` over {", ".join(summary["delta_keys"])}\n')
    print(format_tables(summary), flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(summary, f, indent=2)
        print(f'\nsummary written to {args.json}', flush=True)
    return summary


if __name__ == '__main__':
    main()
