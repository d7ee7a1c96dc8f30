"""sakbox.analysis.log_analysis on scalars.json files written here."""
import json
import math

import numpy as np
import pytest

from sakbox.analysis.log_analysis import (
    ScalarLog,
    curve_figure,
    find_scalars_file,
    format_train_time,
    load_scalar_log,
    log_curve,
    plot_curves,
    train_time_stats,
)

#: (step, loss, time) of the training lines; the first window holds the start-up.
TRAIN = [(10, 2.0, 0.90), (20, 1.5, 0.20), (30, 1.2, 0.30), (40, 1.0, 0.10)]
#: (step, mIoU) of the validation lines.
VAL = [(20, 0.25), (40, 0.40)]


def _write_log(path, loss_scale=1.0):
    """A scalars.json in MMEngine's shape: train lines, with val lines after steps 20, 40."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for step, loss, t in TRAIN:
        lines.append(dict(lr=1e-3, data_time=t / 10, loss=loss * loss_scale, loss_semseg=loss,
                          time=t, iter=step, memory=10, step=step))
        lines += [{'semseg/mIoU': m, 'data_time': 0.01, 'time': 5.0, 'step': s}
                  for s, m in VAL if s == step]
    path.write_text('\n'.join(json.dumps(r) for r in lines) + '\n\n')
    return str(path)


def test_lines_are_split_into_train_and_val_curves(tmp_path):
    log = load_scalar_log(_write_log(tmp_path / 'scalars.json'))
    assert len(log.train) == 4 and len(log.val) == 2
    assert log_curve(log, 'loss') == ([10.0, 20.0, 30.0, 40.0], [2.0, 1.5, 1.2, 1.0])
    assert log_curve(log, 'semseg/mIoU') == ([20.0, 40.0], [0.25, 0.40])
    # keys in both kinds of lines are taken from the training lines
    assert log_curve(log, 'time')[1] == [0.90, 0.20, 0.30, 0.10]
    assert log_curve(log, 'absent') == ([], [])
    assert 'semseg/mIoU' in log.keys() and 'step' not in log.keys()


def test_train_time_statistics(tmp_path):
    log = load_scalar_log(_write_log(tmp_path / 'scalars.json'))
    stats = train_time_stats(log)  # without the start-up window
    times = [0.20, 0.30, 0.10]
    assert stats['records'] == 3
    assert stats['mean'] == pytest.approx(np.mean(times))
    assert stats['std'] == pytest.approx(np.std(times))
    assert (stats['slowest'], stats['slowest_step']) == (0.30, 30)
    assert (stats['fastest'], stats['fastest_step']) == (0.10, 40)
    assert stats['mean_data_time'] == pytest.approx(np.mean(times) / 10)
    full = train_time_stats(log, include_outliers=True)
    assert full['records'] == 4 and (full['slowest'], full['slowest_step']) == (0.90, 10)
    assert full['mean'] == pytest.approx(np.mean([0.9] + times))
    text = format_train_time(log, stats)
    assert 'slowest: 0.3000 s/iter at step 30' in text and 'average iter time: 0.2000' in text


def test_figure_has_one_subplot_per_key_and_one_line_per_log(tmp_path):
    logs = [load_scalar_log(_write_log(tmp_path / f'work_{n}' / '20250101_000000' / 'vis_data'
                                       / 'scalars.json', loss_scale=s))
            for n, s in (('a', 1.0), ('b', 2.0))]
    assert [log.name for log in logs] == ['work_a', 'work_b']
    fig = curve_figure(logs, ['loss', 'semseg/mIoU'], title='runs')
    loss_ax, miou_ax = fig.axes
    assert [ln.get_label() for ln in loss_ax.lines] == ['work_a loss', 'work_b loss']
    np.testing.assert_allclose(loss_ax.lines[1].get_ydata(), [4.0, 3.0, 2.4, 2.0])
    np.testing.assert_allclose(miou_ax.lines[0].get_xdata(), [20, 40])
    assert miou_ax.get_ylabel() == 'semseg/mIoU' and fig._suptitle.get_text() == 'runs'
    out = plot_curves(logs, ['loss'], str(tmp_path / 'plots' / 'c.png'), legend=['A', 'B'])
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_a_key_in_no_log_raises_with_the_keys_available(tmp_path):
    log = load_scalar_log(_write_log(tmp_path / 'scalars.json'))
    with pytest.raises(KeyError, match=r"key 'depth/RMSE' is in none of the logs \(.*"
                       r"scalars.json\); keys available: data_time, iter, loss, loss_semseg, "
                       r"lr, memory, semseg/mIoU, time"):
        curve_figure([log], ['loss', 'depth/RMSE'])
    with pytest.raises(ValueError, match=r'1 logs x 2 keys = 2, got 1'):
        curve_figure([log], ['loss', 'semseg/mIoU'], legend=['only one'])


def test_finding_and_reading_errors(tmp_path):
    old = _write_log(tmp_path / 'work' / '20250101_000000' / 'vis_data' / 'scalars.json')
    new = _write_log(tmp_path / 'work' / '20250102_000000' / 'vis_data' / 'scalars.json')
    assert find_scalars_file(str(tmp_path / 'work')) == new
    assert find_scalars_file(str(tmp_path / 'work' / '20250101_000000')) == old
    with pytest.raises(FileNotFoundError, match='holds no scalars.json'):
        find_scalars_file(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='log file not found: .*nope.json'):
        load_scalar_log(str(tmp_path / 'nope.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"loss": 1, "iter": 1, "step": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r'bad.json:2 is not JSON'):
        load_scalar_log(str(bad))
    val_only = tmp_path / 'val_only.json'
    val_only.write_text('{"semseg/mIoU": 0.5, "time": 1.0, "step": 4}\n')
    with pytest.raises(ValueError, match=r'val_only.json has no training lines with `time` '
                       r'\(keys: semseg/mIoU, time\)'):
        train_time_stats(load_scalar_log(str(val_only)))
    no_data_time = ScalarLog('x', train=[dict(time=1.0, iter=1)])
    assert math.isnan(train_time_stats(no_data_time)['mean_data_time'])
