"""Reading metric files: ``tools/test.py``'s JSON, flat JSON objects, MMEngine scalar logs.

One reader for every tool that consumes metrics written by an earlier run
(``compare_configs.py``, ``trivial_baselines.py``,
``compute_single_task_baselines.py``). Accepted inputs:

* the ``metrics.json`` that ``tools/test.py`` writes (``{"metrics": {...}, ...}``);
* a flat ``{"semseg/mIoU": ..., ...}`` JSON object;
* an MMEngine ``scalars.json`` log: JSON lines, one record per logging step;
* a work dir that contains ``metrics.json``.
"""
import json
import math
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence

__all__ = ['load_metrics', 'load_metric_records', 'find_metric', 'find_last_metric']


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _unwrap(record: object) -> object:
    """``record['metrics']`` when ``record`` is a ``tools/test.py`` payload, else ``record``."""
    if isinstance(record, dict) and isinstance(record.get('metrics'), dict):
        return record['metrics']
    return record


def load_metrics(path: str) -> Dict[str, float]:
    """The finite numeric metrics of one JSON object (``tools/test.py``'s file or a flat one).

    Args:
        path: ``metrics.json`` (``{"metrics": {...}}``) or a flat ``{key: value}`` JSON.

    Returns:
        Dict[str, float]: ``{key: value}`` for every finite number in the file
        (booleans, strings and NaN / inf are left out).

    Raises:
        FileNotFoundError: ``path`` does not exist (named in the message).
        ValueError: The file is not a JSON object (or its ``metrics`` is not one).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'metrics JSON not found: {path}')
    with open(path) as f:
        data = json.load(f)
    metrics = data.get('metrics', data) if isinstance(data, dict) else None
    if not isinstance(metrics, dict):
        raise ValueError(f'{path}: expected a JSON object (with a "metrics" object), got '
                         f'{type(data).__name__}')
    return {k: float(v) for k, v in metrics.items() if _is_number(v) and math.isfinite(v)}


def load_metric_records(path: str) -> List[Dict[str, float]]:
    """The metric dicts stored in one file (or a work dir's ``metrics.json``), in file order.

    Args:
        path: A JSON / JSON-lines file or a directory holding ``metrics.json``.

    Returns:
        List[Dict[str, float]]: One or more flat ``{key: value}`` dicts of the
        numeric entries (one per JSON line of a scalar log).

    Raises:
        FileNotFoundError: ``path`` is a directory without ``metrics.json``.
        ValueError: The file is neither JSON nor JSON lines, or holds no metric dict.
    """
    if osp.isdir(path):
        candidate = osp.join(path, 'metrics.json')
        if not osp.isfile(candidate):
            raise FileNotFoundError(f'{path} is a directory without metrics.json (run '
                                    'tools/test.py with that work dir first)')
        path = candidate
    with open(path) as f:
        text = f.read()
    try:
        records = [json.loads(text)]
    except json.JSONDecodeError:
        try:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as e:
            raise ValueError(f'{path} is neither JSON nor JSON lines: {e}') from e
    out = []
    for rec in map(_unwrap, records):
        if isinstance(rec, dict):
            out.append({k: v for k, v in rec.items() if isinstance(v, (int, float))})
    if not out:
        raise ValueError(f'{path} holds no metric dict')
    return out


def find_metric(metrics: Mapping[str, float], key: str) -> Optional[float]:
    """``metrics[key]``, else the value of the shortest key ending in ``/<key>``.

    Evaluators may prefix their keys (``multitask/semseg/mIoU``); the suffix
    match finds them.

    Args:
        metrics: A flat metrics dict.
        key: The metric key, e.g. ``'semseg/mIoU'``.

    Returns:
        float or None: The value; None when no key matches.
    """
    if key in metrics:
        return float(metrics[key])
    hits = [k for k in metrics if k.endswith('/' + key)]
    return float(metrics[sorted(hits, key=len)[0]]) if hits else None


def find_last_metric(records: Sequence[Mapping[str, float]], key: str) -> Optional[float]:
    """:func:`find_metric` in the last record that has ``key`` (the latest value of a log).

    Args:
        records: Metric dicts in file order (:func:`load_metric_records`).
        key: The metric key.

    Returns:
        float or None: The value; None when no record has it.
    """
    for rec in reversed(records):
        value = find_metric(rec, key)
        if value is not None:
            return value
    return None
