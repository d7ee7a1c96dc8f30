"""Plot curves from MMEngine scalar logs, or summarise their training time.

Examples::

    python tools/analysis_tools/analyze_logs.py plot_curve \\
        work_dirs/sak_nyud/20250101_120000/vis_data/scalars.json --keys loss semseg/mIoU \\
        --out curves.png
    python tools/analysis_tools/analyze_logs.py plot_curve run_a.json run_b.json \\
        --keys loss --legend run_a run_b --title 'two runs'
    python tools/analysis_tools/analyze_logs.py cal_train_time work_dirs/sak_nyud

A log is a ``vis_data/scalars.json`` file, its ``vis_data`` or ``<timestamp>`` folder,
or a work dir (its latest run). ``plot_curve`` draws one subplot per key with one line
per log against ``step`` (training lines for keys they have, else validation lines)
and writes ``--out`` (default ``curves.png``); ``cal_train_time`` prints the average,
slowest, fastest and spread of the logged seconds per iteration of each log. The
reading is :mod:`sakbox.analysis.log_analysis`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from sakbox.analysis.log_analysis import (  # noqa: E402
    format_train_time,
    load_scalar_log,
    plot_curves,
    train_time_stats,
)


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Analyse MMEngine scalar logs')
    sub = parser.add_subparsers(dest='task', required=True)
    plot = sub.add_parser('plot_curve', help='plot keys of one or more logs against step')
    plot.add_argument('logs', nargs='+', help='scalars.json files or run folders')
    plot.add_argument('--keys', nargs='+', default=['loss'],
                      help='keys to plot (default: loss), e.g. loss semseg/mIoU')
    plot.add_argument('--legend', nargs='+', help='one label per log and key, log by log')
    plot.add_argument('--title', help='figure title')
    plot.add_argument('--out', default='curves.png',
                      help='image to write, format by suffix (default: curves.png)')
    timing = sub.add_parser('cal_train_time', help='seconds per iteration of each log')
    timing.add_argument('logs', nargs='+', help='scalars.json files or run folders')
    timing.add_argument('--include-outliers', action='store_true',
                        help='keep the first logged window (start-up) in the statistics')
    return parser.parse_args(argv)


def main(argv=None):
    """Entry point; returns the written image (plot_curve) or the statistics per log."""
    args = parse_args(argv)
    logs = [load_scalar_log(p) for p in args.logs]
    if args.task == 'plot_curve':
        out = plot_curves(logs, args.keys, args.out, legend=args.legend, title=args.title)
        print(f'plotted {", ".join(args.keys)} of {len(logs)} log(s) to {out}')
        return out
    stats = {}
    for log in logs:
        stats[log.path] = train_time_stats(log, include_outliers=args.include_outliers)
        print(format_train_time(log, stats[log.path]))
    return stats


if __name__ == '__main__':
    main()
