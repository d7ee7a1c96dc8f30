"""tools/analysis_tools/benchmark_model.py on the tiny config (the measuring is
sakbox.utils.benchmark, tested in tests/test_utils/test_benchmark.py)."""
import os.path as osp

from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py')


def test_benchmark_model_reports_student_teachers_and_ratios(capsys):
    tool = load_tool('tools/analysis_tools/benchmark_model.py')
    res = tool.main([CONFIG, '--shape', '64', '96', '--repeat', '1', '--warmup', '0'])
    names = {'student', 'student stem', 'plain ViT stem', 'teacher dinov2', 'teacher clip',
             'teacher sam', 'teachers (all)'}
    assert names <= set(res)
    for r in res.values():
        assert r['params'] > 0 and r['flops'] > 0 and r['ms'] > 0
    # the student = stem + heads; the stem = plain ViT + adapter paths + routers
    assert res['student']['params'] > res['student stem']['params'] > \
        res['plain ViT stem']['params']
    assert res['teachers (all)']['params'] == sum(res[f'teacher {t}']['params']
                                                  for t in ('dinov2', 'clip', 'sam'))
    out = capsys.readouterr().out
    assert 'teachers / student' in out and 'SAK student / plain ViT stem' in out
