"""tools/test.py and demo/image_demo.py load strictly; tools/train.py reports load_from.

The runner setup behind the two tools is sakbox.apis.runner, called directly here
except in the subprocess / ``main`` smoke tests of each script.

Wrong checkpoints fail with non-zero exits and messages naming the file; ``--non-strict``
evaluates what fits; unreadable files fail before any Runner is built.
"""
import json
import os
import os.path as osp

import pytest
import torch
from torch.utils.data import default_collate

import sakbox.apis.runner as runner_api
from sakbox.apis.runner import (
    build_train_cfg,
    metrics_payload,
    run_test,
    run_train,
    write_metrics_json,
)
from sakbox.utils import CheckpointError, CheckpointMismatchError
from tests.fixtures.official_sak_checkpoints import (
    official_multitask_state_dict,
    official_training_checkpoint,
)
from tests.fixtures.toy_components import ToyNoisyModel, ToyRegressionDataset
from tests.utils import load_tool, run_tool

CFG = 'tests/fixtures/configs/toy_iter.py'
#: ToyNoisyModel(channels=4): conv (2) + BN (5) + conv (2) tensors.
NUM_TENSORS = 9


@pytest.fixture(scope='module')
def toy_ckpts(tmp_path_factory):
    """A full ToyNoisyModel checkpoint, one without the last conv, and an official SAK file."""
    root = tmp_path_factory.mktemp('ckpts')
    torch.manual_seed(3)
    model = ToyNoisyModel(channels=4)
    with torch.no_grad():
        model.net[1].running_mean.uniform_(-0.5, 0.5)
        model.net[1].running_var.uniform_(0.5, 2.0)
    full = model.state_dict()
    paths = dict(full=str(root / 'full.pth'), partial=str(root / 'partial.pth'),
                 official=str(root / 'nyud_checkpoint.pth'))
    torch.save(dict(meta={}, state_dict=full), paths['full'])
    torch.save(dict(meta={}, state_dict={k: v for k, v in full.items()
                                         if not k.startswith('net.4.')}), paths['partial'])
    torch.save(official_training_checkpoint(official_multitask_state_dict()), paths['official'])
    return model.eval(), paths


def _reference_mse(model) -> float:
    """The toy val set's MSE computed directly with ``model``."""
    batch = default_collate([ToyRegressionDataset(length=7, seed=1)[i] for i in range(7)])
    with torch.no_grad():
        out = model(batch['inputs'])
    return float(((out - batch['target']) ** 2).sum() / out.numel())


def test_test_tool_exits_non_zero_on_an_official_sak_file(toy_ckpts, tmp_path):
    _, paths = toy_ckpts
    proc = run_tool(['tools/test.py', CFG, paths['official'], '--work-dir', str(tmp_path)],
                    check=False)
    assert proc.returncode != 0
    err = proc.stderr
    assert f'tools/test.py: error: checkpoint {paths["official"]} does not fit ToyNoisyModel: ' \
        f'loaded 0 of {NUM_TENSORS} model tensors; {NUM_TENSORS} missing (first: net.0.weight' \
        in err
    assert 'unexpected (first: backbone.vit.cls_token' in err
    assert 'looks like an official SAK release' in err
    assert f'python tools/model_converters/sak_official_to_sakbox.py {paths["official"]} ' in err
    assert 'Traceback' not in err  # the message, not a stack
    assert not osp.exists(tmp_path / 'metrics.json')


def test_run_test_evaluates_the_checkpoint_weights(toy_ckpts, tmp_path):
    model, paths = toy_ckpts
    metrics, fit, cfg = run_test(CFG, paths['full'], work_dir=str(tmp_path))
    # Runner.test() did not re-initialise anything: the metric is the checkpoint's.
    assert metrics['toy/mse'] == pytest.approx(_reference_mse(model), rel=1e-5)
    path = write_metrics_json(cfg.work_dir, metrics_payload(CFG, paths['full'], metrics, fit))
    assert path == osp.join(str(tmp_path), 'metrics.json')
    with open(tmp_path / 'metrics.json') as f:
        assert 'partial_weights' not in json.load(f)


def test_run_test_strict_by_default_and_non_strict_on_request(toy_ckpts, tmp_path):
    _, paths = toy_ckpts
    with pytest.raises(CheckpointMismatchError, match=r'loaded 7 of 9 model tensors; 2 missing '
                                                      r'\(first: net\.4\.weight, net\.4\.bias\)'):
        run_test(CFG, paths['partial'], work_dir=str(tmp_path / 'strict'))
    metrics, fit, _ = run_test(CFG, paths['partial'], work_dir=str(tmp_path / 'loose'),
                               non_strict=True)
    assert metrics['toy/num_samples'] == 7
    payload = metrics_payload(CFG, paths['partial'], metrics, fit)
    assert payload['partial_weights'] == dict(loaded=7, model_tensors=9, missing=2,
                                              unexpected=0, mismatched=0)


@pytest.mark.parametrize('mode', ['test', 'train'])
def test_unreadable_checkpoint_fails_before_the_runner(tmp_path, mode, monkeypatch):
    bad = tmp_path / 'cut.pth'
    torch.save({'state_dict': {'w': torch.randn(256, 256)}}, bad)
    bad.write_bytes(bad.read_bytes()[:1000])
    monkeypatch.setattr(runner_api, 'Runner', None)  # building one would fail loudly
    work_dir = str(tmp_path / 'work')
    with pytest.raises(CheckpointError, match=f'{bad} is truncated or corrupt'):
        if mode == 'test':
            run_test(CFG, str(bad), work_dir=work_dir)
        else:
            run_train(CFG, work_dir=work_dir, cfg_options={'load_from': str(bad)})


def test_run_train_resume_from_a_text_file_fails_at_once(tmp_path, monkeypatch):
    bad = tmp_path / 'iter_9.pth'
    bad.write_text('404: Not Found')
    monkeypatch.setattr(runner_api, 'Runner', None)
    with pytest.raises(CheckpointError, match=f'{bad} is not a PyTorch checkpoint: it is a '
                                              "text file \\(starting '404: Not Found'\\)"):
        run_train(CFG, work_dir=str(tmp_path / 'work'), resume=str(bad))


def test_build_train_cfg_adds_the_load_report_hook_once():
    cfg = build_train_cfg(CFG)
    types = [h['type'] for h in cfg.custom_hooks]
    assert types.count('CheckpointLoadReportHook') == 1


def test_train_load_from_logs_how_much_fitted(toy_ckpts, tmp_path):
    _, paths = toy_ckpts
    proc = run_tool(['tools/train.py', CFG, '--work-dir', str(tmp_path), '--cfg-options',
                     f'load_from={paths["partial"]}', 'train_cfg.max_iters=1',
                     'param_scheduler=[]'])
    log = proc.stdout + proc.stderr
    line = next(ln for ln in log.splitlines() if f'load_from {paths["partial"]}:' in ln)
    assert ' - WARNING - ' in line
    assert 'loaded 7 of 9 model tensors; 2 missing (first: net.4.weight, net.4.bias)' in line
    assert osp.exists(tmp_path / 'iter_1.pth')  # training goes on, non-strictly


def test_demo_is_strict_unless_told(tmp_path):
    import cv2
    import numpy as np

    from sakbox.apis import init_model

    config = 'configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py'
    sd = init_model(config).state_dict()
    sd.pop('decode_heads.edge.last_conv.bias')
    ckpt = str(tmp_path / 'no_edge_bias.pth')
    torch.save(dict(state_dict=sd), ckpt)
    img = str(tmp_path / 'room.png')
    cv2.imwrite(img, np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    demo = load_tool('demo/image_demo.py')
    args = [img, config, ckpt, '--out-dir', str(tmp_path / 'vis'), '--device', 'cpu']
    with pytest.raises(CheckpointMismatchError, match='1 missing \\(first: decode_heads\\.edge'):
        demo.main(args)
    written = demo.main(args + ['--non-strict'])
    assert sorted(os.listdir(tmp_path / 'vis')) == sorted(['room.png', 'semseg', 'depth',
                                                           'normals', 'edge'])
    assert osp.isfile(written['edge'])
