"""sakbox.analysis.teacher_precision_check and its CLI on the tiny SAK config."""
import os.path as osp

import pytest

from sakbox.analysis.teacher_precision_check import (
    build_teacher_check_model,
    default_input_shape,
    load_images,
)
from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_bf16_targets_close_to_fp32(tmp_path, capsys):
    """The one smoke test of tools/analysis_tools/teacher_precision_check.py."""
    tool = load_tool('tools/analysis_tools/teacher_precision_check.py')
    out = tmp_path / 'prec.json'
    res = tool.main([osp.join(ROOT, 'configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py'),
                     '--shape', '64', '64', '--batch', '2', '--random-weights',
                     '--json', str(out)])
    rows = res['rows']
    # 3 teachers x 4 levels, bf16 only
    assert len(rows) == 12 and {r['teacher'] for r in rows} == {'dinov2', 'clip', 'sam'}
    for r in rows:
        assert 0 < r['rel_l2'] < 0.05, r  # bf16 rounds (never bit-equal), but stays close
        assert r['cosine'] > 0.99, r
        assert r['distill_loss'] >= 0
    assert out.exists() and set(res['seconds']) == {'fp32', 'bf16'}
    assert 'speed-up' in capsys.readouterr().out


def test_config_without_teachers_is_refused():
    with pytest.raises(KeyError, match='no_teachers.py: model.teachers is empty'):
        build_teacher_check_model(dict(type='MultiTaskDistiller', teachers=None),
                                  'no_teachers.py')


def test_inputs_and_default_shape(tmp_path):
    assert default_input_shape(dict(student=dict(img_size=32))) == [32, 32]
    assert default_input_shape(dict(student=dict(img_size=(32, 48)))) == [32, 48]
    assert default_input_shape(dict()) == [224, 224]
    x = load_images(None, 2, [8, 12], None, None, seed=0)
    assert x.shape == (2, 3, 8, 12) and x.equal(load_images(None, 2, [8, 12], None, None, 0))
    with pytest.raises(FileNotFoundError, match='found 0 images, need 2'):
        load_images(str(tmp_path), 2, [8, 12], [0, 0, 0], [1, 1, 1], seed=0)
