"""sakbox.utils.setup_env: config adjustments made before a Runner is built."""
import pytest
from mmengine.config import Config

from sakbox.utils import fit_dataloader_workers
from sakbox.utils.cli import load_config
from tests.utils import run_tool

DEMO = 'configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py'


def _cfg(**loaders) -> Config:
    return Config(dict(loaders, model=dict(type='X')))


@pytest.mark.parametrize('num_workers, persistent, expected', [
    (0, True, False),     # torch refuses persistent workers without workers
    (None, True, False),  # num_workers absent = 0
    (2, True, True),      # real workers keep the config's choice
    (0, False, False),
])
def test_fit_dataloader_workers(num_workers, persistent, expected):
    loader = dict(batch_size=2, persistent_workers=persistent)
    if num_workers is not None:
        loader['num_workers'] = num_workers
    cfg = fit_dataloader_workers(_cfg(train_dataloader=loader))
    assert cfg.train_dataloader.persistent_workers is expected


def test_fit_dataloader_workers_every_loader_and_lists():
    cfg = _cfg(train_dataloader=dict(num_workers=0, persistent_workers=True),
               val_dataloader=[dict(num_workers=0, persistent_workers=True),
                               dict(num_workers=1, persistent_workers=True)],
               test_dataloader=dict(num_workers=0, persistent_workers=True),
               extra_dataloader=None)
    fit_dataloader_workers(cfg)
    assert not cfg.train_dataloader.persistent_workers
    assert [d['persistent_workers'] for d in cfg.val_dataloader] == [False, True]
    assert not cfg.test_dataloader.persistent_workers


def test_load_config_with_zero_workers_on_a_real_config():
    cfg = load_config(DEMO, {'train_dataloader.num_workers': 0,
                             'val_dataloader.num_workers': 0})
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.val_dataloader.persistent_workers is False
    untouched = load_config(DEMO)
    assert untouched.train_dataloader.persistent_workers is True


def test_train_tool_runs_with_zero_workers_and_persistent_workers(tmp_path):
    # The toy config has num_workers=0; asking for persistent workers on top is
    # what every shipped config does: it must train instead of raising.
    run_tool(['tools/train.py', 'tests/fixtures/configs/toy_iter.py', '--work-dir',
              str(tmp_path), '--cfg-options', 'train_dataloader.persistent_workers=True',
              'val_dataloader.persistent_workers=True', 'train_cfg.max_iters=3',
              'train_cfg.val_interval=3'])
    assert (tmp_path / 'iter_3.pth').exists()
