"""tools/analysis_tools/get_flops.py (the counting is sakbox.analysis.model_complexity,
tested in tests/test_analysis/test_model_complexity.py)."""
import os.path as osp

from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = osp.join(ROOT, 'tests', 'fixtures', 'configs', 'toy_iter.py')
TINY = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_synthetic-nyud.py')


def test_toy_model_flops_are_the_hand_count(capsys):
    tool = load_tool('tools/analysis_tools/get_flops.py')
    report = tool.main([TOY, '--shape', '8', '8', '--cfg-options', 'model.channels=2'])
    # ToyNoisyModel(channels=2): 3x3 conv 3->2 (padding 1) and 1x1 conv 2->1 on 8x8
    assert report.total.flops == 2 * (3 * 9 * 2 + 2 * 1) * 64
    assert report.total.params == (3 * 9 * 2 + 2) + 2 * 2 + (2 + 1)
    out = capsys.readouterr().out
    assert 'ToyNoisyModel (total)' in out and 'input 1x3x8x8' in out


def test_default_shape_is_the_test_canvas_of_the_config(capsys):
    tool = load_tool('tools/analysis_tools/get_flops.py')
    report = tool.main([TINY])
    assert report.shape == (96, 128)  # model.data_preprocessor.size
    assert [r.name for r in report.modules] == ['student', 'decode_heads']
    assert report.teachers == []
    assert 'input 1x3x96x128' in capsys.readouterr().out
