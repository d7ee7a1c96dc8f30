"""Read MMEngine's ``vis_data/scalars.json`` logs: curves and training time (``analyze_logs.py``).

MMEngine's ``LocalVisBackend`` writes one JSON object per line. Training lines
carry ``iter`` (and ``epoch`` in epoch-based runs), ``lr``, the losses,
``time`` / ``data_time`` (seconds per iteration, averaged over the log
processor's window) and ``step``; validation lines carry the metric keys
(``semseg/mIoU``, ...), their own ``time`` / ``data_time`` and ``step`` (the
iteration or epoch they ran at).
"""
import json
import math
import os
import os.path as osp
import statistics
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ['ScalarLog', 'find_scalars_file', 'load_scalar_log', 'log_curve', 'curve_figure',
           'plot_curves', 'train_time_stats', 'format_train_time']

#: Keys only training lines have (validation lines have ``step`` and metrics).
TRAIN_MARKERS = ('iter', 'epoch', 'lr')


@dataclass
class ScalarLog:
    """The lines of one ``scalars.json``, split into training and validation.

    Attributes:
        path: The file.
        train: Training lines, in file order.
        val: Validation (and test) lines, in file order.
    """

    path: str
    train: List[dict] = field(default_factory=list)
    val: List[dict] = field(default_factory=list)

    def keys(self) -> List[str]:
        """Every key of the log except ``step``, sorted."""
        return sorted({k for rec in self.train + self.val for k in rec} - {'step'})

    @property
    def name(self) -> str:
        """A short label: the work dir of ``<work_dir>/<timestamp>/vis_data/scalars.json``,
        else the file's path without its suffix."""
        parts = osp.normpath(osp.abspath(self.path)).split(osp.sep)
        if len(parts) >= 4 and parts[-2] == 'vis_data':
            return parts[-4]
        return osp.splitext(self.path)[0]


def find_scalars_file(path: str) -> str:
    """The ``scalars.json`` of a file or run folder.

    Args:
        path (str): A ``scalars.json``-style file, a ``vis_data`` folder, a run's
            ``<timestamp>`` folder or a work dir (its latest run is taken).

    Returns:
        str: The file.

    Raises:
        FileNotFoundError: No such file, or the folder holds no ``scalars.json``.
    """
    if osp.isfile(path):
        return path
    if osp.isdir(path):
        for sub in ('scalars.json', osp.join('vis_data', 'scalars.json')):
            if osp.isfile(osp.join(path, sub)):
                return osp.join(path, sub)
        runs = sorted(d for d in os.listdir(path)
                      if osp.isfile(osp.join(path, d, 'vis_data', 'scalars.json')))
        if runs:  # MMEngine names runs by their start time: the last sorts last
            return osp.join(path, runs[-1], 'vis_data', 'scalars.json')
        raise FileNotFoundError(f'{path} holds no scalars.json (looked for scalars.json, '
                                'vis_data/scalars.json and <timestamp>/vis_data/scalars.json)')
    raise FileNotFoundError(f'log file not found: {path}')


def load_scalar_log(path: str) -> ScalarLog:
    """Read one log (see :func:`find_scalars_file` for what ``path`` may be).

    Args:
        path (str): The log.

    Returns:
        ScalarLog: Its lines; blank lines are skipped.

    Raises:
        FileNotFoundError: See :func:`find_scalars_file`.
        ValueError: A line is not a JSON object (file and line number named).
    """
    path = find_scalars_file(path)
    log = ScalarLog(path)
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}:{lineno} is not JSON ({e.msg}); expected one JSON '
                                 'object per line as MMEngine writes scalars.json') from e
            if not isinstance(rec, dict):
                raise ValueError(f'{path}:{lineno} holds a {type(rec).__name__}, expected a '
                                 'JSON object')
            (log.train if any(k in rec for k in TRAIN_MARKERS) else log.val).append(rec)
    return log


def log_curve(log: ScalarLog, key: str) -> Tuple[List[float], List[float]]:
    """``(steps, values)`` of ``key``: from the training lines if any has it, else from
    the validation lines (so ``time`` means training time).

    Args:
        log (ScalarLog): The log.
        key (str): A key of its lines.

    Returns:
        Tuple[List[float], List[float]]: Empty lists when the log lacks the key.
    """
    records = log.train if any(key in r for r in log.train) else log.val
    points = [(r.get('step', i), r[key]) for i, r in enumerate(records) if key in r]
    return [float(s) for s, _ in points], [float(v) for _, v in points]


def _check_keys(logs: Sequence[ScalarLog], keys: Sequence[str]) -> None:
    available = sorted({k for log in logs for k in log.keys()})
    for key in keys:
        if not any(log_curve(log, key)[0] for log in logs):
            raise KeyError(f'key {key!r} is in none of the logs '
                           f'({", ".join(log.path for log in logs)}); keys available: '
                           f'{", ".join(available)}')


def curve_figure(logs: Sequence[ScalarLog], keys: Sequence[str],
                 legend: Optional[Sequence[str]] = None, title: Optional[str] = None):
    """Draw every key of every log against ``step``: one subplot per key.

    matplotlib draws off screen (its Agg canvas, imported here, no pyplot
    state), so this runs without a display.

    Args:
        logs (Sequence[ScalarLog]): The logs.
        keys (Sequence[str]): Keys to plot, e.g. ``['loss', 'semseg/mIoU']``.
        legend (Sequence[str], optional): One label per (log, key) pair, log by
            log; default ``'<log name> <key>'``.
        title (str, optional): The figure's title.

    Returns:
        matplotlib.figure.Figure: The figure (``fig.axes[k]`` plots ``keys[k]``).

    Raises:
        KeyError: A key is in none of the logs (the keys available are listed).
        ValueError: ``legend`` has the wrong length, or nothing to plot.
    """
    if not logs or not keys:
        raise ValueError('plot_curves: give at least one log and one key')
    _check_keys(logs, keys)
    if legend is None:
        legend = [f'{log.name} {key}' for log in logs for key in keys]
    if len(legend) != len(logs) * len(keys):
        raise ValueError(f'--legend needs one label per log and key: {len(logs)} logs x '
                         f'{len(keys)} keys = {len(logs) * len(keys)}, got {len(legend)}')
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3 * len(keys)), layout='constrained')
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(keys), 1, squeeze=False)[:, 0]
    for k, (ax, key) in enumerate(zip(axes, keys)):
        for i, log in enumerate(logs):
            steps, values = log_curve(log, key)
            if steps:
                ax.plot(steps, values, marker='o' if len(steps) < 20 else None,
                        label=legend[i * len(keys) + k])
        ax.set_xlabel('step')
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def plot_curves(logs: Sequence[ScalarLog], keys: Sequence[str], out: str,
                legend: Optional[Sequence[str]] = None, title: Optional[str] = None) -> str:
    """Write :func:`curve_figure` to ``out`` (any format matplotlib writes, by suffix).

    Args:
        logs, keys, legend, title: As for :func:`curve_figure`.
        out (str): The image file; its folder is created.

    Returns:
        str: ``out``.
    """
    fig = curve_figure(logs, keys, legend=legend, title=title)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out)
    return out


def train_time_stats(log: ScalarLog, include_outliers: bool = False) -> Dict[str, float]:
    """Per-iteration time of the training lines.

    Args:
        log (ScalarLog): The log.
        include_outliers (bool): Keep the first training line, whose window holds
            the start-up (dataloader workers, first allocations). Default False
            (it is kept when it is the only line).

    Returns:
        dict: ``records`` (lines used), ``mean`` / ``std`` (population) of ``time``
        in s/iter, ``slowest`` / ``fastest`` time and their ``slowest_step`` /
        ``fastest_step``, and ``mean_data_time`` (NaN when not logged).

    Raises:
        ValueError: No training line has ``time``.
    """
    records = [r for r in log.train if 'time' in r]
    if not records:
        raise ValueError(f'{log.path} has no training lines with `time` (keys: '
                         f'{", ".join(log.keys()) or "none"})')
    if not include_outliers and len(records) > 1:
        records = records[1:]
    times = [float(r['time']) for r in records]
    slow = max(range(len(times)), key=times.__getitem__)
    fast = min(range(len(times)), key=times.__getitem__)
    data_times = [float(r['data_time']) for r in records if 'data_time' in r]
    return dict(records=len(times), mean=statistics.fmean(times),
                std=statistics.pstdev(times), slowest=times[slow],
                slowest_step=records[slow].get('step', slow), fastest=times[fast],
                fastest_step=records[fast].get('step', fast),
                mean_data_time=statistics.fmean(data_times) if data_times else math.nan)


def format_train_time(log: ScalarLog, stats: Dict[str, float]) -> str:
    """A short report of :func:`train_time_stats` for one log."""
    lines = [f'----- training time of {log.path} ({stats["records"]} logged windows) -----',
             f'slowest: {stats["slowest"]:.4f} s/iter at step {stats["slowest_step"]}',
             f'fastest: {stats["fastest"]:.4f} s/iter at step {stats["fastest_step"]}',
             f'std over windows: {stats["std"]:.4f} s/iter',
             f'average iter time: {stats["mean"]:.4f} s/iter']
    if not math.isnan(stats['mean_data_time']):
        lines.append(f'average data time: {stats["mean_data_time"]:.4f} s/iter')
    return '\n'.join(lines)
