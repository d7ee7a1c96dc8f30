"""The model-level test_cfg in the configs: visible in the _base_ model files, whole by default."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from sakbox.models.utils import check_test_cfg

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE_MODELS = sorted(glob.glob(osp.join(ROOT, 'configs', '_base_', 'models', '*.py')))


@pytest.mark.parametrize('path', BASE_MODELS, ids=osp.basename)
def test_base_model_files_show_the_knob(path):
    cfg = Config.fromfile(path)
    assert cfg.model.test_cfg == dict(mode='whole')
    # a model file must not define the runner's top-level `test_cfg` (the test loop)
    assert 'test_cfg' not in cfg


@pytest.mark.parametrize('name', ['sak_nyud.py', 'sak/sak_vit-b_nyud.py',
                                  'sak/sak_vit-tiny_synthetic-pascal.py'])
def test_stage2_configs_inherit_whole_mode_and_keep_the_test_loop(name):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
    assert check_test_cfg(cfg.model.test_cfg)['mode'] == 'whole'
    assert cfg.test_cfg == dict(type='TestLoop')
    # switching to slide is one --cfg-options away
    cfg.merge_from_dict({'model.test_cfg.mode': 'slide', 'model.test_cfg.crop_size': [96, 128],
                         'model.test_cfg.stride': [64, 96]})
    assert check_test_cfg(cfg.model.test_cfg) == dict(
        mode='slide', crop_size=(96, 128), stride=(64, 96), batch_windows=None)
