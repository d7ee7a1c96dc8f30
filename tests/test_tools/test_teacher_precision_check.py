"""tools/analysis_tools/teacher_precision_check.py on the tiny SAK config."""
import os.path as osp

import pytest

from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_bf16_targets_close_to_fp32(tmp_path, capsys):
    tool = load_tool('tools/analysis_tools/teacher_precision_check.py')
    out = tmp_path / 'prec.json'
    res = tool.main([osp.join(ROOT, 'configs/sak/sak_vit-tiny_synthetic-nyud.py'),
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


def test_config_without_teachers_is_refused(tmp_path):
    tool = load_tool('tools/analysis_tools/teacher_precision_check.py')
    cfg = tmp_path / 'no_teachers.py'
    cfg.write_text("model = dict(type='MultiTaskDistiller', teachers=None)\n")
    with pytest.raises(KeyError, match='no_teachers.py: model.teachers is empty'):
        tool.main([str(cfg)])
