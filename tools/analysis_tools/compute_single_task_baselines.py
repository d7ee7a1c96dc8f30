"""Turn single-task runs' metric files into ``single_task_baselines`` for Delta_m.

``MultiTaskMetric`` reports ``multitask/delta_m`` relative to single-task
reference values, which sakbox does not ship. Train and test one single-task
model per task (same backbone and schedule as the multi-task model), then
pass their metric files here: ``metrics.json`` written by ``tools/test.py``
(``{"metrics": {...}}``), a flat ``{"semseg/mIoU": ...}`` JSON object, an
MMEngine ``scalars.json`` log (JSON lines; the last record with the key
wins) or a work dir containing ``metrics.json``. The primary metric of each
task found (``semseg/mIoU``, ``depth/RMSE``, ``normals/mErr``, ``edge/odsF``,
``sal/maxF``, ``human_parts/mIoU``) is collected; a key found in several
files (e.g. seeds) is averaged.

Example::

    python tools/analysis_tools/compute_single_task_baselines.py \\
        work_dirs/st_semseg work_dirs/st_depth work_dirs/st_normals work_dirs/st_edge \\
        --out work_dirs/nyud_single_task_baselines.json
"""
import argparse
import json
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from sakbox.evaluation.functional.multitask import PRIMARY_METRICS  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Collect single-task metrics into single_task_baselines for Delta_m')
    parser.add_argument('files', nargs='+',
                        help='metrics.json / scalars.json files or work dirs of single-task runs')
    parser.add_argument('--keys', nargs='+', default=None,
                        help='metric keys to collect (default: the primary metric of every '
                        f'task: {", ".join(f"{t}/{m}" for t, m in PRIMARY_METRICS.items())})')
    parser.add_argument('--out', default=None, help='write the baselines to this JSON file')
    return parser.parse_args(argv)


def load_metric_records(path: str) -> List[Dict[str, float]]:
    """The metric dicts stored in one file (or a work dir's ``metrics.json``).

    Args:
        path: A JSON / JSON-lines file or a directory.

    Returns:
        list: One or more flat ``{key: value}`` dicts, in file order.
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
    for rec in records:
        if isinstance(rec, dict) and isinstance(rec.get('metrics'), dict):
            rec = rec['metrics']
        if isinstance(rec, dict):
            out.append({k: v for k, v in rec.items() if isinstance(v, (int, float))})
    if not out:
        raise ValueError(f'{path} holds no metric dict')
    return out


def find_metric(records: List[Dict[str, float]], key: str) -> Optional[float]:
    """Value of ``key`` (also as a suffix ``.../key``) in the last record that has it."""
    for rec in reversed(records):
        for name, value in rec.items():
            if name == key or name.endswith('/' + key):
                return float(value)
    return None


def collect_baselines(paths: Sequence[str], keys: Optional[Sequence[str]] = None
                      ) -> 'OrderedDict[str, Dict[str, object]]':
    """Gather the requested keys over the files.

    Args:
        paths: Metric files or work dirs.
        keys: Keys to collect; None means every task's primary metric.

    Returns:
        OrderedDict: ``{key: {'value': mean, 'values': [...], 'files': [...]}}``
        for each key found in at least one file.
    """
    keys = list(keys) if keys else [f'{t}/{m}' for t, m in PRIMARY_METRICS.items()]
    found: 'OrderedDict[str, Dict[str, object]]' = OrderedDict()
    for path in paths:
        records = load_metric_records(path)
        for key in keys:
            value = find_metric(records, key)
            if value is None:
                continue
            entry = found.setdefault(key, dict(values=[], files=[]))
            entry['values'].append(value)
            entry['files'].append(path)
    for entry in found.values():
        entry['value'] = sum(entry['values']) / len(entry['values'])
    return found


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    args = parse_args(argv)
    found = collect_baselines(args.files, args.keys)
    if not found:
        raise SystemExit('none of the metric keys was found in the given files')
    baselines = {key: entry['value'] for key, entry in found.items()}
    for key, entry in found.items():
        vals = entry['values']
        note = (f'mean of {len(vals)}: ' + ', '.join(f'{v:g}' for v in vals)
                if len(vals) > 1 else entry['files'][0])
        print(f'{key:<20} {entry["value"]:.6g}   ({note})')
    print('\n# for the config:\nsingle_task_baselines = {')
    for key, value in baselines.items():
        print(f"    '{key}': {value!r},")
    print('}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(baselines, f, indent=2)
        print(f'written to {args.out}')
    return baselines


if __name__ == '__main__':
    main()
