"""Config file names follow the mmseg pattern and say what the config does; the stable
public names are one-line aliases that resolve to exactly their target."""
import ast
import os.path as osp

import pytest
from mmengine.config import Config

from tests.fixtures.config_names import (
    MODEL_FOLDERS,
    PUBLIC_ALIASES,
    ROOT,
    SAK_NYUD,
    config_files,
    crop_of,
    full_configs,
    parse_config_name,
    schedule_name,
    schedule_of,
)

FULL = [c for folder in MODEL_FOLDERS for c in full_configs(folder, absolute=False)]
#: DESIGN.md's public config names; each must exist (as an alias or as configs/sak_nyud.py).
DESIGN_NAMES = ['configs/sak_nyud.py', 'configs/sak/sak_vit-b_nyud.py',
                'configs/sak/sak_vit-b_pascal.py', 'configs/sak/sak_vit-b_stage1_in1k.py',
                'configs/sak/sak_vit-tiny_synthetic-nyud.py',
                'configs/sak/sak_vit-tiny_synthetic-pascal.py']


def _cfg_dict(path: str) -> dict:
    """The resolved config as a plain dict (the file name is not part of it)."""
    return Config.fromfile(osp.join(ROOT, path)).to_dict()


@pytest.mark.parametrize('path', ['sak_vit-b_8xb1-40k_nyud-448x576.py',
                                  'sak_vit-b_stage1_8xb16-cached-30e_in1k-384x384.py',
                                  'sak_vit-tiny-radio-teacher_1xb4-600it_synthetic-nyud-96x128.py',
                                  'radio_vit-b_1xb8-linear-probe-20k_nyud-448x576.py'])
def test_pattern_parses_every_field(path):
    fields = parse_config_name(path)
    assert fields is not None
    assert fields['method'] in ('sak', 'radio') and fields['crop'].count('x') == 1
    assert parse_config_name('sak_vit-b_nyud.py') is None
    assert parse_config_name('sak_vit-b_8xb1_40k_nyud-448x576.py') is None  # '_' before 40k
    assert parse_config_name('sak_vit-b_8xb1-40k_nyud.py') is None  # no crop


def test_fields_of_a_name():
    fields = parse_config_name('sak_vit-b_stage1_8xb16-cached-30e_in1k-384x384.py')
    assert fields == dict(method='sak', backbone='vit-b', stage='stage1', gpus='8', batch='16',
                          techniques='-cached', schedule='30e', dataset='in1k',
                          crop='384x384')
    fields = parse_config_name('sak_vit-tiny_1xb4-600it_synthetic-pascal-context-96x128.py')
    assert (fields['backbone'], fields['stage'], fields['dataset'], fields['crop']) == (
        'vit-tiny', None, 'synthetic-pascal-context', '96x128')


@pytest.mark.parametrize('folder', MODEL_FOLDERS)
def test_every_config_follows_the_pattern_or_is_a_listed_alias(folder):
    files = config_files(folder)
    assert files, folder
    wrong = [p for p in files if p not in PUBLIC_ALIASES and parse_config_name(p) is None]
    assert not wrong, (f'{wrong} follow neither the naming pattern (tests/fixtures/'
                       'config_names.py: CONFIG_NAME) nor PUBLIC_ALIASES')


@pytest.mark.parametrize('path', FULL, ids=osp.basename)
def test_name_says_what_the_config_does(path):
    fields = parse_config_name(path)
    cfg = Config.fromfile(osp.join(ROOT, path))
    assert int(fields['batch']) == cfg.train_dataloader.batch_size, path
    assert fields['schedule'] == schedule_name(*schedule_of(cfg.train_cfg)), path
    h, w = crop_of(cfg)
    assert fields['crop'] == f'{h}x{w}', path
    assert (fields['stage'] == 'stage1') == (cfg.model.type == 'MultiTeacherDistiller'), path
    expected_method = 'sak' if path.startswith('configs/sak/') else 'radio'
    assert fields['method'] == expected_method, path


def test_design_public_names_exist():
    missing = [p for p in DESIGN_NAMES if not osp.isfile(osp.join(ROOT, p))]
    assert not missing
    assert set(DESIGN_NAMES) == set(PUBLIC_ALIASES) | {SAK_NYUD[0]}


@pytest.mark.parametrize('alias', sorted(PUBLIC_ALIASES), ids=osp.basename)
def test_alias_is_one_base_line_naming_its_target(alias):
    target = PUBLIC_ALIASES[alias]
    assert parse_config_name(target) is not None and osp.isfile(osp.join(ROOT, target))
    with open(osp.join(ROOT, alias)) as f:
        source = f.read()
    body = ast.parse(source).body
    assert len(body) == 1 and isinstance(body[0], ast.Assign), f'{alias}: one _base_ line'
    assert [t.id for t in body[0].targets] == ['_base_']
    assert ast.literal_eval(body[0].value) == [f'./{osp.basename(target)}']
    # the comment names the target and says why the file exists
    comment = ' '.join(line for line in source.splitlines() if line.startswith('#'))
    assert osp.basename(target) in comment and 'stable public name' in comment


@pytest.mark.parametrize('alias, target', sorted(PUBLIC_ALIASES.items()) + [SAK_NYUD],
                         ids=lambda p: osp.basename(p))
def test_alias_resolves_to_exactly_its_target(alias, target):
    assert _cfg_dict(alias) == _cfg_dict(target)
