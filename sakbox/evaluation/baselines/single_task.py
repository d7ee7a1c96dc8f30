"""Single-task reference values (``single_task_baselines``) for Delta_m from metric files.

``MultiTaskMetric`` reports ``multitask/delta_m`` relative to single-task
reference values, which sakbox does not ship: train and test one single-task
model per task, then collect their metric files here
(``tools/analysis_tools/compute_single_task_baselines.py`` is the command line).
"""
from collections import OrderedDict
from typing import Dict, Optional, Sequence

from ..functional.multitask import PRIMARY_METRICS
from ..metric_files import find_last_metric, load_metric_records

__all__ = ['primary_metric_keys', 'collect_baselines']


def primary_metric_keys() -> list:
    """``['semseg/mIoU', 'depth/RMSE', ...]``: the primary metric of every task."""
    return [f'{t}/{m}' for t, m in PRIMARY_METRICS.items()]


def collect_baselines(paths: Sequence[str], keys: Optional[Sequence[str]] = None
                      ) -> 'OrderedDict[str, Dict[str, object]]':
    """Gather the requested keys over the metric files; a key found in several is averaged.

    Every file is read by :func:`~sakbox.evaluation.metric_files.load_metric_records`
    (``tools/test.py`` JSON, flat JSON, JSON lines or a work dir); in a log the
    last record with the key wins.

    Args:
        paths: Metric files or work dirs.
        keys: Keys to collect; None means every task's primary metric.

    Returns:
        OrderedDict: ``{key: {'value': mean, 'values': [...], 'files': [...]}}``
        for each key found in at least one file.
    """
    keys = list(keys) if keys else primary_metric_keys()
    found: 'OrderedDict[str, Dict[str, object]]' = OrderedDict()
    for path in paths:
        records = load_metric_records(path)
        for key in keys:
            value = find_last_metric(records, key)
            if value is None:
                continue
            entry = found.setdefault(key, dict(values=[], files=[]))
            entry['values'].append(value)
            entry['files'].append(path)
    for entry in found.values():
        entry['value'] = sum(entry['values']) / len(entry['values'])
    return found
