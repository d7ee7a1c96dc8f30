"""Registries and config composition."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import init_default_scope

from sakbox.registry import HOOKS, METRICS, MODELS, OPTIM_WRAPPERS, SakboxRegistry
from tests.utils import REPO_ROOT

TOY_CFG = osp.join(REPO_ROOT, 'tests/fixtures/configs/toy_iter.py')


def test_registries_are_sakbox_children_of_mmengine_roots():
    assert isinstance(MODELS, SakboxRegistry)
    assert MODELS.parent is MMENGINE_MODELS
    assert MODELS.scope == 'sakbox'


def test_lazy_locations_find_components_without_imports():
    # `locations` import sakbox.engine on first lookup.
    assert HOOKS.get('WeightsOnlyCheckpointHook').__name__ == 'WeightsOnlyCheckpointHook'
    assert OPTIM_WRAPPERS.get('AutocastOptimWrapper').__name__ == 'AutocastOptimWrapper'
    # Parents still answer for MMEngine's own components.
    assert HOOKS.get('CheckpointHook').__name__ == 'CheckpointHook'


def test_unknown_type_lists_close_names():
    with pytest.raises(KeyError) as err:
        HOOKS.build(dict(type='WeightsOnlyCheckpointHok'))
    msg = str(err.value)
    assert 'WeightsOnlyCheckpointHok' in msg and 'WeightsOnlyCheckpointHook' in msg


def test_unknown_type_through_mmengine_root_with_default_scope():
    init_default_scope('sakbox')
    with pytest.raises(KeyError, match='Did you mean'):
        MMENGINE_MODELS.build(dict(type='ToyNoisyModle'))


def test_base_chain_and_dict_swap_build():
    cfg = Config.fromfile(TOY_CFG)
    # Two-level `_base_` chain: runtime + schedule + toy_base all merged.
    assert cfg.default_scope == 'sakbox'
    assert cfg.train_cfg.max_iters == 12
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert any(h['type'] == 'IterationSeedHook' for h in cfg.custom_hooks)
    init_default_scope('sakbox')
    import tests.fixtures.toy_components  # noqa: F401  (custom_imports of the config)
    model = MODELS.build(cfg.model)
    assert model.net[0].out_channels == 4
    # Swapping a component is editing a dict.
    cfg.model.channels = 7
    assert MODELS.build(cfg.model).net[0].out_channels == 7
    cfg.merge_from_dict({'val_evaluator.type': 'ToyMSEMetric', 'model.channels': 3})
    assert MODELS.build(cfg.model).net[0].out_channels == 3
    assert METRICS.build(cfg.val_evaluator).default_prefix == 'toy'
