"""tools/analysis_tools/compare_configs.py: running, reusing and collecting the runs.

The aggregation and the tables are tested with sakbox.evaluation.compare
(tests/test_evaluation/test_compare.py).
"""
import json
import os
import os.path as osp

import pytest

from sakbox.evaluation.metric_files import load_metrics
from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


tool = load_tool('tools/analysis_tools/compare_configs.py')

# Two configs x three seeds; the light head is 10% worse on semseg and 10% better on depth
# at every seed, equal on normals and edge, so its Delta_m is exactly 0 with no spread.
REF = [dict(zip(('semseg/mIoU', 'depth/RMSE', 'normals/mErr', 'edge/odsF'), v))
       for v in [(20.0, 0.8, 18.0, 50.0), (18.0, 0.7, 17.0, 54.0), (22.0, 0.9, 19.0, 52.0)]]
LIGHT = [{'semseg/mIoU': 18.0, 'depth/RMSE': 0.72, 'normals/mErr': 18.0, 'edge/odsF': 52.0}
         for _ in range(3)]


def _write_runs(root, runs):
    for name, seeds in runs.items():
        for seed, metrics in enumerate(seeds):
            d = osp.join(root, name, f'seed{seed}', 'test')
            os.makedirs(d)
            payload = dict(config=f'{name}.py', checkpoint='x.pth',
                           metrics=dict(metrics, note='not a number', flag=True))
            with open(osp.join(d, 'metrics.json'), 'w') as f:
                json.dump(payload, f)


def test_main_collects_existing_runs_and_writes_json(tmp_path, capsys):
    _write_runs(str(tmp_path), {'ref': REF, 'light': LIGHT[:2]})
    out_json = tmp_path / 'summary.json'
    summary = tool.main(['ref.py', 'cfgs/light.py', '--seeds', '0', '1', '2',
                         '--work-dir', str(tmp_path), '--collect-only', '--json', str(out_json)])
    printed = capsys.readouterr().out
    assert 'light seed 2: no' in printed  # a missing run is reported, not hidden
    assert summary['configs']['light']['delta_m']['n'] == 2
    assert 'note' not in summary['configs']['ref']['metrics']  # non-numbers dropped
    assert 'flag' not in summary['configs']['ref']['metrics']
    saved = json.loads(out_json.read_text())
    assert saved['seeds'] == [0, 1, 2]
    assert saved['config_files'] == {'ref': 'ref.py', 'light': 'cfgs/light.py'}
    assert saved['configs']['light']['metrics']['depth/RMSE']['mean'] == pytest.approx(0.72)


def test_skip_existing_runs_nothing(tmp_path, monkeypatch):
    _write_runs(str(tmp_path), {'ref': REF[:1]})
    monkeypatch.setattr(tool.subprocess, 'run',
                        lambda *a, **k: pytest.fail('nothing should be trained or tested'))
    path = tool.train_and_test('ref.py', 0, tool.run_dir(str(tmp_path), 'ref', 0), [], True)
    assert path == tool.metrics_path(str(tmp_path), 'ref', 0)


def test_train_and_test_commands(tmp_path, monkeypatch):
    """Train with the seed override, then test the last checkpoint in <run>/test."""
    run = str(tmp_path / 'ref' / 'seed3')
    calls = []

    def fake_run(cmd, check):
        calls.append(cmd)
        if cmd[1].endswith('train.py'):
            os.makedirs(run, exist_ok=True)
            with open(osp.join(run, 'last_checkpoint'), 'w') as f:
                f.write(osp.join(run, 'iter_600.pth'))
        else:
            os.makedirs(osp.join(run, 'test'))
            with open(osp.join(run, 'test', 'metrics.json'), 'w') as f:
                json.dump(dict(metrics=REF[0]), f)

    monkeypatch.setattr(tool.subprocess, 'run', fake_run)
    path = tool.train_and_test('ref.py', 3, run, ['train_cfg.max_iters=5'], False)
    assert load_metrics(path) == REF[0]
    train, test = calls
    assert train[2:] == ['ref.py', '--work-dir', run, '--cfg-options', 'randomness.seed=3',
                         'train_cfg.max_iters=5']
    assert test[2:] == ['ref.py', osp.join(run, 'iter_600.pth'), '--work-dir',
                        osp.join(run, 'test'), '--cfg-options', 'train_cfg.max_iters=5']


def test_duplicate_names_are_rejected(tmp_path):
    with pytest.raises(ValueError, match='distinct name'):
        tool.main(['a/x.py', 'b/x.py', '--work-dir', str(tmp_path), '--collect-only'])


def _fake_run_dir(tmp_path, ckpt_name):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text('train_cfg = dict(type="IterBasedTrainLoop", max_iters=600)\n')
    run = tmp_path / 'run'
    run.mkdir()
    (run / ckpt_name).write_bytes(b'')
    (run / 'last_checkpoint').write_text(str(run / ckpt_name))
    return str(cfg), str(run)


@pytest.mark.parametrize('ckpt,options,finished', [
    ('iter_600.pth', [], True),
    ('iter_300.pth', [], False),
    ('iter_300.pth', ['train_cfg.max_iters=300'], True),
])
def test_training_finished(tmp_path, ckpt, options, finished):
    cfg, run = _fake_run_dir(tmp_path, ckpt)
    assert tool.training_finished(cfg, osp.join(run, 'last_checkpoint'), options) is finished


@pytest.mark.parametrize('ckpt,resumed', [('iter_600.pth', False), ('iter_300.pth', True)])
def test_skip_existing_tests_finished_and_resumes_unfinished_training(tmp_path, monkeypatch,
                                                                      ckpt, resumed):
    cfg, run = _fake_run_dir(tmp_path, ckpt)
    calls = []

    def fake_run(cmd, check):
        calls.append(cmd)
        if cmd[1].endswith('test.py'):
            os.makedirs(osp.join(run, 'test'))
            with open(osp.join(run, 'test', 'metrics.json'), 'w') as f:
                json.dump(dict(metrics=REF[0]), f)

    monkeypatch.setattr(tool.subprocess, 'run', fake_run)
    tool.train_and_test(cfg, 0, run, [], True)
    tools = [osp.basename(c[1]) for c in calls]
    assert tools == (['train.py', 'test.py'] if resumed else ['test.py'])
    if resumed:
        assert calls[0][-1] == '--resume'
    assert calls[-1][3] == osp.join(run, ckpt)
