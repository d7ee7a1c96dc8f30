"""tools/train.py, tools/test.py, resume and the distributed scripts, on a tiny config."""
import json
import os.path as osp

import pytest
import torch

from tests.utils import free_port, run_tool

CFG = 'tests/fixtures/configs/toy_iter.py'


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """One uninterrupted 12-iteration run shared by the tests below."""
    work = tmp_path_factory.mktemp('uninterrupted')
    run_tool(['tools/train.py', CFG, '--work-dir', str(work)])
    return work


def test_train_writes_checkpoints_loadable_weights_only(trained):
    for it in (3, 6, 9, 12):
        ckpt = _load(osp.join(trained, f'iter_{it}.pth'))  # weights_only=True must work
        assert ckpt['meta']['iter'] == it
        assert 'message_hub' in ckpt and 'optimizer' in ckpt
    with open(osp.join(trained, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_12.pth')


def test_test_tool_prints_table_and_writes_json(trained, tmp_path):
    proc = run_tool(['tools/test.py', CFG, osp.join(trained, 'iter_12.pth'), '--work-dir',
                     str(tmp_path), '--out', str(tmp_path / 'preds.pkl')])
    assert 'toy/mse' in proc.stdout
    with open(tmp_path / 'metrics.json') as f:
        payload = json.load(f)
    assert payload['metrics']['toy/num_samples'] == 7
    assert payload['metrics']['toy/mse'] > 0
    assert osp.getsize(tmp_path / 'preds.pkl') > 0


def test_kill_minus_9_then_resume_is_bitwise_identical(trained, tmp_path):
    # SIGKILL right after the 2nd checkpoint (iteration 6) ...
    proc = run_tool(['tools/train.py', CFG, '--work-dir', str(tmp_path)],
                    env=dict(SAKBOX_TEST_KILL_AT='6'), check=False)
    assert proc.returncode != 0
    assert osp.exists(tmp_path / 'iter_6.pth') and not osp.exists(tmp_path / 'iter_9.pth')
    # ... then `--resume` without a path picks the latest checkpoint.
    proc = run_tool(['tools/train.py', CFG, '--work-dir', str(tmp_path), '--resume'])
    assert 'iter: 6' in proc.stdout + proc.stderr
    resumed, reference = _load(tmp_path / 'iter_12.pth'), _load(trained / 'iter_12.pth')
    for key, value in reference['state_dict'].items():
        assert torch.equal(value, resumed['state_dict'][key]), key
    ref_opt, res_opt = reference['optimizer']['state'], resumed['optimizer']['state']
    for idx in ref_opt:
        for key in ref_opt[idx]:
            assert torch.equal(torch.as_tensor(ref_opt[idx][key]),
                               torch.as_tensor(res_opt[idx][key])), (idx, key)


def test_resume_from_explicit_checkpoint_continues_at_its_iteration(trained, tmp_path):
    proc = run_tool(['tools/train.py', CFG, '--work-dir', str(tmp_path), '--resume',
                     osp.join(trained, 'iter_9.pth')])
    assert 'iter: 9' in proc.stdout + proc.stderr
    assert not osp.exists(tmp_path / 'iter_3.pth')
    assert osp.exists(tmp_path / 'iter_12.pth')


def test_cfg_options_override_reaches_the_run(tmp_path):
    run_tool(['tools/train.py', CFG, '--work-dir', str(tmp_path), '--cfg-options',
              'train_cfg.max_iters=3', 'model.channels=2', 'param_scheduler=[]'])
    ckpt = _load(tmp_path / 'iter_3.pth')
    assert ckpt['state_dict']['net.0.weight'].shape[0] == 2
    assert not osp.exists(tmp_path / 'iter_6.pth')


def test_amp_trains_with_bf16_autocast_on_cpu(tmp_path):
    proc = run_tool(['tools/train.py', CFG, '--work-dir', str(tmp_path), '--amp',
                     '--cfg-options', 'train_cfg.max_iters=3', 'param_scheduler=[]'])
    assert osp.exists(tmp_path / 'iter_3.pth')
    assert 'AutocastOptimWrapper' in open(tmp_path / 'toy_iter.py').read() or \
        'AutocastOptimWrapper' in proc.stdout + proc.stderr


def test_missing_config_and_checkpoint_fail_clearly(tmp_path):
    proc = run_tool(['tools/train.py', 'configs/does_not_exist.py'], check=False)
    assert proc.returncode != 0 and 'configs/does_not_exist.py' in proc.stderr
    proc = run_tool(['tools/test.py', CFG, str(tmp_path / 'nope.pth')], check=False)
    assert proc.returncode != 0 and 'nope.pth' in proc.stderr


@pytest.mark.dist
def test_dist_train_and_test_with_two_cpu_processes(trained, tmp_path):
    env = dict(PORT=str(free_port()))
    run_tool(['bash', 'tools/dist_train.sh', CFG, '2', '--work-dir', str(tmp_path / 'train'),
              '--cfg-options', 'train_cfg.max_iters=6', 'param_scheduler=[]'], env=env)
    assert osp.exists(tmp_path / 'train' / 'iter_6.pth')

    ckpt = osp.join(trained, 'iter_12.pth')
    env = dict(PORT=str(free_port()))
    run_tool(['bash', 'tools/dist_test.sh', CFG, ckpt, '2', '--work-dir',
              str(tmp_path / 'dist_test')], env=env)
    run_tool(['tools/test.py', CFG, ckpt, '--work-dir', str(tmp_path / 'single_test')])
    with open(tmp_path / 'dist_test' / 'metrics.json') as f:
        dist_metrics = json.load(f)['metrics']
    with open(tmp_path / 'single_test' / 'metrics.json') as f:
        single_metrics = json.load(f)['metrics']
    # 7 samples over 2 ranks: an uneven split must neither drop nor duplicate.
    assert dist_metrics['toy/num_samples'] == 7
    assert dist_metrics == pytest.approx(single_metrics, rel=1e-6, abs=1e-7)
