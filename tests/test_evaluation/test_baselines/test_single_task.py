"""sakbox.evaluation.baselines.single_task (and its CLI, compute_single_task_baselines.py)."""
import json

import pytest

from sakbox.evaluation.baselines import collect_baselines
from tests.utils import load_tool


def _write_files(tmp_path):
    (tmp_path / 'seg').mkdir()
    with open(tmp_path / 'seg' / 'metrics.json', 'w') as f:  # tools/test.py format
        json.dump(dict(config='c.py', metrics={'semseg/mIoU': 50.0, 'semseg/aAcc': 70.0}), f)
    with open(tmp_path / 'depth.json', 'w') as f:  # flat dict
        json.dump({'depth/RMSE': 0.5}, f)
    with open(tmp_path / 'scalars.json', 'w') as f:  # MMEngine JSON lines, last one wins
        f.write(json.dumps({'depth/RMSE': 9.9, 'step': 1}) + '\n')
        f.write(json.dumps({'depth/RMSE': 0.7, 'edge/odsF': 80.0, 'step': 2}) + '\n')
    return [str(tmp_path / 'seg'), str(tmp_path / 'depth.json'), str(tmp_path / 'scalars.json')]


def test_collect_baselines_merges_and_averages(tmp_path):
    paths = _write_files(tmp_path)
    found = collect_baselines(paths)
    assert {k: e['value'] for k, e in found.items()} == {
        'semseg/mIoU': 50.0, 'depth/RMSE': pytest.approx(0.6), 'edge/odsF': 80.0}
    assert found['depth/RMSE']['values'] == [0.5, 0.7]
    assert found['depth/RMSE']['files'] == paths[1:]


def test_collect_baselines_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='metrics.json'):
        collect_baselines([str(tmp_path)])
    with open(tmp_path / 'other.json', 'w') as f:
        json.dump({'loss': 1.0}, f)
    assert not collect_baselines([str(tmp_path / 'other.json')])


def test_cli(tmp_path, capsys):
    """The one smoke test of tools/analysis_tools/compute_single_task_baselines.py."""
    tool = load_tool('tools/analysis_tools/compute_single_task_baselines.py')
    out = tmp_path / 'baselines.json'
    baselines = tool.main([*_write_files(tmp_path), '--out', str(out)])
    assert baselines == {'semseg/mIoU': 50.0, 'depth/RMSE': pytest.approx(0.6),
                         'edge/odsF': 80.0}
    assert json.load(open(out)) == baselines
    printed = capsys.readouterr().out
    assert 'single_task_baselines = {' in printed and 'mean of 2' in printed
    with open(tmp_path / 'other.json', 'w') as f:
        json.dump({'loss': 1.0}, f)
    with pytest.raises(SystemExit):
        tool.main([str(tmp_path / 'other.json')])
