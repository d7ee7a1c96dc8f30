"""The evaluation tools in tools/analysis_tools (imported, not run as subprocesses)."""
import json

import numpy as np
import pytest

from ..utils import load_tool


def test_compute_single_task_baselines_merges_and_averages(tmp_path, capsys):
    tool = load_tool('tools/analysis_tools/compute_single_task_baselines.py')
    (tmp_path / 'seg').mkdir()
    with open(tmp_path / 'seg' / 'metrics.json', 'w') as f:  # tools/test.py format
        json.dump(dict(config='c.py', metrics={'semseg/mIoU': 50.0, 'semseg/aAcc': 70.0}), f)
    with open(tmp_path / 'depth.json', 'w') as f:  # flat dict
        json.dump({'depth/RMSE': 0.5}, f)
    with open(tmp_path / 'scalars.json', 'w') as f:  # MMEngine JSON lines, last one wins
        f.write(json.dumps({'depth/RMSE': 9.9, 'step': 1}) + '\n')
        f.write(json.dumps({'depth/RMSE': 0.7, 'edge/odsF': 80.0, 'step': 2}) + '\n')
    out = tmp_path / 'baselines.json'
    baselines = tool.main([str(tmp_path / 'seg'), str(tmp_path / 'depth.json'),
                           str(tmp_path / 'scalars.json'), '--out', str(out)])
    assert baselines == {'semseg/mIoU': 50.0, 'depth/RMSE': pytest.approx(0.6),
                         'edge/odsF': 80.0}
    assert json.load(open(out)) == baselines
    printed = capsys.readouterr().out
    assert 'single_task_baselines = {' in printed and 'mean of 2' in printed


def test_compute_single_task_baselines_errors(tmp_path):
    tool = load_tool('tools/analysis_tools/compute_single_task_baselines.py')
    with pytest.raises(FileNotFoundError, match='metrics.json'):
        tool.main([str(tmp_path)])
    with open(tmp_path / 'other.json', 'w') as f:
        json.dump({'loss': 1.0}, f)
    with pytest.raises(SystemExit):
        tool.main([str(tmp_path / 'other.json')])


def test_benchmark_synthetic_pairs_are_boundary_maps():
    tool = load_tool('tools/analysis_tools/benchmark_edge_eval.py')
    pred, gt = tool.synthetic_pair(np.random.default_rng(0), 48, 64)
    assert pred.shape == gt.shape == (48, 64)
    assert pred.dtype == np.float32 and 0 <= pred.min() and pred.max() <= 1
    assert set(np.unique(gt)) <= {0, 1} and gt.sum() > 0
