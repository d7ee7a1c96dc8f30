"""sakbox.utils.config_dump.save_config: a resolved config written by suffix loads back."""
import os.path as osp

import pytest
from mmengine.config import Config

from sakbox.utils.cli import load_config
from sakbox.utils.config_dump import save_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = ['configs/sak/sak_vit-tiny_synthetic-nyud.py', 'configs/sak/sak_vit-b_pascal.py',
           'configs/radio/radio_vit-tiny_1xb32-600it_synthetic-nyud-48x48.py', 'tests/fixtures/configs/toy_iter.py']


def _lists(obj):
    """``obj`` with every tuple turned into a list (what JSON keeps of a tuple)."""
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_lists(v) for v in obj]
    return obj


@pytest.mark.parametrize('config', CONFIGS)
@pytest.mark.parametrize('suffix', ['.py', '.yaml', '.yml', '.json'])
def test_saved_config_loads_back_to_the_same_dict(config, suffix, tmp_path):
    cfg = load_config(osp.join(ROOT, config), {'train_cfg.max_iters': 7})
    path = save_config(cfg, str(tmp_path / 'sub' / f'resolved{suffix}'))
    assert path.endswith(f'resolved{suffix}') and osp.isfile(path)
    back = Config.fromfile(path).to_dict()
    if suffix == '.json':  # JSON has no tuples
        assert _lists(back) == _lists(cfg.to_dict())
    else:
        assert back == cfg.to_dict()
    assert back['train_cfg']['max_iters'] == 7 and '_base_' not in back


def test_python_file_is_the_pretty_text(tmp_path):
    cfg = load_config(osp.join(ROOT, CONFIGS[0]))
    save_config(cfg, str(tmp_path / 'c.py'))
    assert (tmp_path / 'c.py').read_text() == cfg.pretty_text


@pytest.mark.parametrize('name', ['c.txt', 'c', 'c.PY'])
def test_unknown_suffix_raises_naming_the_file(name, tmp_path):
    cfg = Config(dict(a=1))
    with pytest.raises(ValueError, match=rf'{name}: the suffix must be one of \.py, \.json'):
        save_config(cfg, str(tmp_path / name))
    assert not (tmp_path / name).exists()
