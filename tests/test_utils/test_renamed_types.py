"""sakbox's own component names: none shadows an mmseg one; old names are refused clearly."""
import pathlib
import re

import mmseg
import pytest
from mmengine.config import Config

from sakbox.apis import init_model
from sakbox.registry import DATASETS, METRICS, MODELS, TRANSFORMS
from sakbox.utils import register_all_modules
from sakbox.utils.cli import load_config
from sakbox.utils.renamed_types import RENAMED_TYPES, check_renamed_types, find_renamed_types

_REGISTERED = re.compile(r'@\w+\.register_module\([^)]*\)\s*\n\s*class (\w+)')


def _mmseg_registered_names():
    root = pathlib.Path(mmseg.__file__).parent
    names = set()
    for path in root.rglob('*.py'):
        names.update(_REGISTERED.findall(path.read_text(encoding='utf-8')))
    return names


def test_no_sakbox_component_shadows_an_mmseg_one():
    register_all_modules()
    mmseg_names = _mmseg_registered_names()
    assert {'CrossEntropyLoss', 'UPerHead', 'PhotoMetricDistortion'} <= mmseg_names  # the scan works
    ours = set()
    for registry in (MODELS, TRANSFORMS, METRICS, DATASETS):
        ours.update(registry.module_dict)
    assert not ours & mmseg_names, sorted(ours & mmseg_names)
    for old, new in RENAMED_TYPES.items():
        assert old in mmseg_names and old not in ours and new in ours, (old, new)


def test_old_names_are_found_outside_other_scopes_only():
    cfg = dict(model=dict(type='MultiTaskDistiller',
                          task_losses=dict(semseg=dict(type='CrossEntropyLoss')),
                          decode_heads=dict(depth=dict(type='mmseg.UPerHead',
                                                       loss_decode=dict(type='CrossEntropyLoss')),
                                            sal=dict(_scope_='mmseg', type='DPTHead'))),
               train_pipeline=[dict(type='PhotoMetricDistortion')])
    assert find_renamed_types(cfg) == [
        ('cfg.model.task_losses.semseg.type', 'CrossEntropyLoss', 'MultiTaskCrossEntropyLoss'),
        ('cfg.train_pipeline[0].type', 'PhotoMetricDistortion', 'MultiTaskPhotoMetricDistortion')]
    with pytest.raises(ValueError, match=r"my_cfg.py uses sakbox component types that were renamed"
                       r"(.|\n)*cfg.model.task_losses.semseg.type: 'CrossEntropyLoss' -> "
                       r"'MultiTaskCrossEntropyLoss' \(mmseg's own: 'mmseg.CrossEntropyLoss'\)"):
        check_renamed_types(Config(cfg), 'my_cfg.py')
    check_renamed_types(Config(dict(model=dict(type='MultiTaskDistiller'))), 'ok.py')


def test_config_loading_and_init_model_refuse_old_names(tmp_path):
    path = tmp_path / 'old.py'
    path.write_text("default_scope = 'sakbox'\n"
                    "model = dict(type='MultiTaskDistiller', task_losses=dict("
                    "semseg=dict(type='CrossEntropyLoss')))\n")
    with pytest.raises(ValueError, match=r"old.py uses (.|\n)*'MultiTaskCrossEntropyLoss'"):
        load_config(str(path))
    with pytest.raises(ValueError, match=r"old.py uses (.|\n)*'MultiTaskCrossEntropyLoss'"):
        init_model(str(path))
