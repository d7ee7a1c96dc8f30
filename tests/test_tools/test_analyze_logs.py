"""tools/analysis_tools/analyze_logs.py on the scalars.json of a real tiny training run
(the reading is sakbox.analysis.log_analysis, tested in
tests/test_analysis/test_log_analysis.py)."""
import glob
import json
import os.path as osp

import pytest

from tests.utils import load_tool


def _scalars(work) -> str:
    (path,) = glob.glob(osp.join(str(work), '*', 'vis_data', 'scalars.json'))
    return path


def test_plot_curve_of_a_real_run(toy_run, tmp_path, capsys):
    tool = load_tool('tools/analysis_tools/analyze_logs.py')
    out = tool.main(['plot_curve', str(toy_run), _scalars(toy_run), '--keys', 'loss',
                     'toy/mse', '--legend', 'a loss', 'a mse', 'b loss', 'b mse', '--title',
                     'toy', '--out', str(tmp_path / 'curves.png')])
    assert out == str(tmp_path / 'curves.png') and osp.getsize(out) > 0
    assert 'plotted loss, toy/mse of 2 log(s)' in capsys.readouterr().out
    with pytest.raises(KeyError, match=r"key 'semseg/mIoU' is in none of the logs .* keys "
                       r'available: .*loss_mse.*toy/mse'):
        tool.main(['plot_curve', str(toy_run), '--keys', 'semseg/mIoU', '--out',
                   str(tmp_path / 'x.png')])


def test_cal_train_time_of_a_real_run(toy_run, capsys):
    tool = load_tool('tools/analysis_tools/analyze_logs.py')
    path = _scalars(toy_run)
    with open(path) as f:
        times = {rec['step']: rec['time'] for rec in map(json.loads, f) if 'iter' in rec}
    assert sorted(times) == [2, 4, 6]
    stats = tool.main(['cal_train_time', path])[path]
    # the first window (start-up) is left out unless --include-outliers
    assert stats['records'] == 2
    assert stats['mean'] == pytest.approx((times[4] + times[6]) / 2)
    assert stats['slowest'] == max(times[4], times[6])
    assert f'training time of {path} (2 logged windows)' in capsys.readouterr().out
    full = tool.main(['cal_train_time', path, '--include-outliers'])[path]
    assert full['records'] == 3
