"""tools/analysis_tools/benchmark_test_memory.py (and sakbox.analysis.eval_memory_benchmark) on
the tiny SAK config."""
import os.path as osp

import pytest

from sakbox.analysis.eval_memory_benchmark import build_phase_model_cfg
from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py')
SMALL = ['--shape', '32', '48', '--batch-size', '1', '--repeat', '1', '--warmup', '0']


tool = load_tool('tools/analysis_tools/benchmark_test_memory.py')


def check_results(res, own_process=True):
    free, loaded = res['teacher-free'], res['teachers-loaded']
    for r in (free, loaded):
        assert r['input_size'] == [32, 48] and r['batch_size'] == 1
        assert r['peak_bytes'] > 0 and r['ms_per_step'] > 0
        if own_process:
            # Only a fresh process has a peak above its import-time baseline; inside a
            # long pytest process freed-but-resident heap can absorb a tiny model.
            assert r['peak_bytes'] > r['model_peak_bytes'] > 0
    # Same student and heads in both builds; only the loaded one holds teachers.
    assert free['model_bytes'] == loaded['model_bytes'] > 0
    assert free['teacher_bytes'] == 0 and loaded['teacher_bytes'] > 0
    ratios = res['ratios']
    assert ratios['weights_ratio'] == pytest.approx(
        free['model_bytes'] / (loaded['model_bytes'] + loaded['teacher_bytes']))
    assert 0 < ratios['weights_ratio'] < 1


def test_main_reports_both_phases_and_ratios(monkeypatch, capsys, tmp_path):
    # Phases run in this process here (the real tool spawns one process per phase).
    monkeypatch.setattr(tool, 'spawn_phase', lambda args, phase: tool.run_phase(
        tool.parse_args(tool._phase_argv(args, phase))))
    out_json = tmp_path / 'res.json'
    res = tool.main([CONFIG, *SMALL, '--json', str(out_json),
                     '--cfg-options', 'model.student.router.noisy_gating=False'])
    check_results(res, own_process=False)
    out = capsys.readouterr().out
    assert 'teacher-free / teachers-loaded, peak RSS of the process' in out
    assert 'parameter + buffer bytes' in out and 'goal <= 0.4x' in out
    assert out_json.exists()


def test_phase_argv_round_trips_options():
    args = tool.parse_args([CONFIG, *SMALL, '--threads', '1', '--cfg-options',
                            'model.student.out_indices=[1,3]', 'a.b=x'])
    back = tool.parse_args(tool._phase_argv(args, 'teachers-loaded'))
    assert back.phase == 'teachers-loaded' and back.shape == [32, 48]
    assert back.batch_size == 1 and back.threads == 1 and back.repeat == 1
    assert back.cfg_options == args.cfg_options


def test_teachers_phase_needs_teachers():
    from mmengine.config import Config
    cfg = Config(dict(model=dict(type='MultiTaskDistiller', student=dict())))
    with pytest.raises(KeyError, match='no `teachers`'):
        build_phase_model_cfg(cfg, build_teachers=True)


@pytest.mark.slow
def test_phases_run_in_their_own_processes():
    check_results(tool.main([CONFIG, *SMALL]))
