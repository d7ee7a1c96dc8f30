"""Train and test several configs over several seeds and compare them, with Delta_m.

Every (config, seed) pair is trained with ``tools/train.py`` (``--cfg-options
randomness.seed=S``) in ``WORK_DIR/<config name>/seed<S>`` and its last checkpoint
tested with ``tools/test.py`` in ``.../seed<S>/test``, which writes ``metrics.json``.
The tool then prints, per config, the mean ± sample standard deviation over the
seeds of every metric, and Delta_m of each config relative to the first one (the
reference): ``sakbox.evaluation.functional.delta_m`` with the reference's
seed-mean metrics standing in for the single-task baselines. Delta_m is computed
per seed and then averaged (it is linear in the metrics, so the mean equals the
Delta_m of the mean metrics); the reference's own spread shows the seed noise.

Example::

    python tools/analysis_tools/compare_configs.py \\
        configs/sak/sak_vit-tiny_synthetic-nyud.py \\
        configs/sak/sak_vit-tiny_synthetic-nyud_light-head.py \\
        --seeds 0 1 2 --work-dir work_dirs/compare_heads --skip-existing \\
        --json work_dirs/compare_heads/summary.json
"""
import argparse
import json
import math
import os.path as osp
import statistics
import subprocess
import sys
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from sakbox.evaluation.functional.multitask import PRIMARY_METRICS, delta_m  # noqa: E402

#: ``{config name: [one flat metrics dict per seed]}``.
Runs = Mapping[str, Sequence[Mapping[str, float]]]


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


def load_metrics(path: str) -> Dict[str, float]:
    """The numeric metrics of a ``tools/test.py`` metrics file.

    Args:
        path: ``metrics.json`` (``{"metrics": {...}}``) or a flat ``{key: value}`` JSON.

    Returns:
        dict: ``{key: value}`` for every finite number in the file.
    """
    with open(path) as f:
        data = json.load(f)
    metrics = data.get('metrics', data) if isinstance(data, dict) else None
    if not isinstance(metrics, dict):
        raise ValueError(f'{path}: expected a JSON object (with a "metrics" object), got '
                         f'{type(data).__name__}')
    out = {}
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            out[key] = float(value)
    return out


def mean_std(values: Sequence[float]) -> Dict[str, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = [float(v) for v in values]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return dict(mean=statistics.fmean(values), std=std, n=len(values))


def default_delta_keys(reference: Mapping[str, float]) -> List[str]:
    """The primary metric of every task present in ``reference``."""
    keys = [f'{t}/{m}' for t, m in PRIMARY_METRICS.items() if f'{t}/{m}' in reference]
    if not keys:
        raise KeyError(f'the reference reports no primary task metric '
                       f'({", ".join(f"{t}/{m}" for t, m in PRIMARY_METRICS.items())}); got '
                       f'{sorted(reference)}; pass --delta-keys')
    return keys


def summarize(runs: Runs, delta_keys: Optional[Sequence[str]] = None) -> dict:
    """Mean ± std of every metric per config, and Delta_m relative to the first config.

    Args:
        runs: ``{config name: [metrics of each seed]}``, the reference first.
        delta_keys: Metric keys of Delta_m (default: :func:`default_delta_keys`).

    Returns:
        dict: ``reference``, ``delta_keys``, ``baselines`` (the reference's means) and
        ``configs``: ``{name: {metrics: {key: {mean, std, n}}, delta_m: {mean, std, n,
        values}}}``. Only keys reported by every seed of a config are aggregated.
    """
    if not runs:
        raise ValueError('summarize needs at least one config')
    empty = [name for name, seeds in runs.items() if not seeds]
    if empty:
        raise ValueError(f'configs without any finished run: {empty}')
    out_configs: Dict[str, dict] = OrderedDict()
    for name, seeds in runs.items():
        common = set(seeds[0]).intersection(*map(set, seeds[1:]))
        keys = [k for k in seeds[0] if k in common]
        out_configs[name] = dict(metrics=OrderedDict(
            (k, mean_std([s[k] for s in seeds])) for k in keys))
    reference = next(iter(runs))
    baselines = {k: v['mean'] for k, v in out_configs[reference]['metrics'].items()}
    keys = list(delta_keys) if delta_keys else default_delta_keys(baselines)
    missing = [k for k in keys if k not in baselines]
    if missing:
        raise KeyError(f'Delta_m keys {missing} are not reported by every seed of the '
                       f'reference {reference!r}')
    base = {k: baselines[k] for k in keys}
    for name, seeds in runs.items():
        values = [delta_m(s, base) for s in seeds]
        out_configs[name]['delta_m'] = dict(mean_std(values), values=values)
    return dict(reference=reference, delta_keys=keys, baselines=base, configs=out_configs)


def _fmt(stat: Mapping[str, float]) -> str:
    """``mean ± std`` with 2 decimals for values >= 10, else 3."""
    digits = 2 if abs(stat['mean']) >= 10 else 3
    return f'{_round(stat["mean"], digits):.{digits}f} ± {stat["std"]:.{digits}f}'


def _round(value: float, digits: int) -> float:
    """``value`` rounded, with -0.0 turned into 0.0 (no "-0.00" in the tables)."""
    return round(value, digits) + 0.0


def format_tables(summary: Mapping) -> str:
    """Markdown tables: the Delta_m metrics and Delta_m per config, then every metric.

    Args:
        summary: The output of :func:`summarize`.

    Returns:
        str: Two Markdown tables.
    """
    configs = summary['configs']
    keys = summary['delta_keys']
    lines = ['| config | seeds | ' + ' | '.join(keys) + ' | Δm (%) |',
             '| --- | --- | ' + ' | '.join('---' for _ in keys) + ' | --- |']
    for name, c in configs.items():
        cells = [_fmt(c['metrics'][k]) if k in c['metrics'] else '-' for k in keys]
        ref = ' (reference)' if name == summary['reference'] else ''
        lines.append(f'| `{name}`{ref} | {c["delta_m"]["n"]} | ' + ' | '.join(cells)
                     + f' | {_round(c["delta_m"]["mean"], 2):+.2f} ± {c["delta_m"]["std"]:.2f} |')
    all_keys: List[str] = []
    for c in configs.values():
        all_keys += [k for k in c['metrics'] if k not in all_keys]
    lines += ['', '| metric | ' + ' | '.join(f'`{n}`' for n in configs) + ' |',
              '| --- | ' + ' | '.join('---' for _ in configs) + ' |']
    for key in sorted(all_keys):
        cells = [_fmt(c['metrics'][key]) if key in c['metrics'] else '-'
                 for c in configs.values()]
        lines.append(f'| {key} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


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
