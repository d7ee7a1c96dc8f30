"""Comparing configs over seeds: mean ± std of every metric and Delta_m against a reference.

Delta_m of each config is computed relative to the first one (the reference):
:func:`sakbox.evaluation.functional.delta_m` with the reference's seed-mean metrics
standing in for the single-task baselines, per seed and then averaged (it is linear
in the metrics, so the mean equals the Delta_m of the mean metrics); the
reference's own spread shows the seed noise.
``tools/analysis_tools/compare_configs.py`` trains, tests and tabulates with it.
"""
import statistics
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence

from .functional.multitask import PRIMARY_METRICS, delta_m

__all__ = ['Runs', 'mean_std', 'default_delta_keys', 'summarize', 'format_tables']

#: ``{config name: [one flat metrics dict per seed]}``.
Runs = Mapping[str, Sequence[Mapping[str, float]]]


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
