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
files (e.g. seeds) is averaged (:func:`sakbox.evaluation.baselines.collect_baselines`,
files read by :mod:`sakbox.evaluation.metric_files`).

Example::

    python tools/analysis_tools/compute_single_task_baselines.py \\
        work_dirs/st_semseg work_dirs/st_depth work_dirs/st_normals work_dirs/st_edge \\
        --out work_dirs/nyud_single_task_baselines.json
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from sakbox.evaluation.baselines import collect_baselines, primary_metric_keys  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description='Collect single-task metrics into single_task_baselines for Delta_m')
    parser.add_argument('files', nargs='+',
                        help='metrics.json / scalars.json files or work dirs of single-task runs')
    parser.add_argument('--keys', nargs='+', default=None,
                        help='metric keys to collect (default: the primary metric of every '
                        f'task: {", ".join(primary_metric_keys())})')
    parser.add_argument('--out', default=None, help='write the baselines to this JSON file')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    """Entry point; returns ``{key: baseline value}``."""
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
