"""CheckpointLoadReportHook: how much of a load_from / resume checkpoint fitted, logged."""
import logging
from types import SimpleNamespace

import torch
import torch.nn as nn

from sakbox.engine.hooks import CheckpointLoadReportHook
from sakbox.registry import HOOKS
from tests.fixtures.official_sak_checkpoints import official_sak_state_dict


def _runner(model, load_from='runs/init.pth', resume=False):
    return SimpleNamespace(model=model, _load_from=load_from, _resume=resume, work_dir='.',
                           logger=logging.getLogger('sakbox-test-load-report'))


def _records(caplog):
    return [r for r in caplog.records if r.name == 'sakbox-test-load-report']


def test_registered():
    assert HOOKS.get('CheckpointLoadReportHook') is CheckpointLoadReportHook


def test_partial_checkpoint_is_a_warning_with_counts_and_first_keys(caplog):
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    ckpt = dict(meta={}, state_dict={'0.weight': torch.zeros(3, 2), '0.bias': torch.zeros(3),
                                     'head.weight': torch.zeros(1)})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with caplog.at_level(logging.INFO, logger='sakbox-test-load-report'):
        CheckpointLoadReportHook().after_load_checkpoint(_runner(model), ckpt)
    record, = _records(caplog)
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(
        'load_from runs/init.pth: loaded 2 of 4 model tensors; 2 missing (first: 1.weight, '
        '1.bias); 1 unexpected (first: head.weight). The other model tensors keep their '
        'initial values.')
    # The hook only reports: the Runner does the (non-strict) loading.
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert list(ckpt['state_dict']) == ['0.weight', '0.bias', 'head.weight']


def test_complete_checkpoint_is_info(caplog):
    model = nn.Linear(2, 3)
    ckpt = dict(state_dict={f'module.{k}': v for k, v in model.state_dict().items()})
    with caplog.at_level(logging.INFO, logger='sakbox-test-load-report'):
        CheckpointLoadReportHook().after_load_checkpoint(_runner(model, resume=True), ckpt)
    record, = _records(caplog)
    assert record.levelno == logging.INFO
    assert record.getMessage() == ('resume runs/init.pth: loaded 2 of 2 model tensors '
                                   '(everything fits)')


def test_official_release_as_load_from_gets_the_converter_hint(caplog):
    with caplog.at_level(logging.INFO, logger='sakbox-test-load-report'):
        CheckpointLoadReportHook().after_load_checkpoint(
            _runner(nn.Linear(2, 3), load_from='sak_s1.pth'), dict(model=official_sak_state_dict()))
    record, = _records(caplog)
    assert record.levelno == logging.WARNING and 'loaded 0 of 2 model tensors' in record.message
    assert 'official SAK release' in record.message
    assert 'sak_official_to_sakbox.py sak_s1.pth' in record.message
