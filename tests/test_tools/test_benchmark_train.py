"""tools/analysis_tools/benchmark_train.py and sakbox.analysis.train_benchmark on the tiny SAK
config (synthetic batches)."""
import json
import os.path as osp

import pytest
import torch

from sakbox.analysis.train_benchmark import PHASES, build_benchmark_cfg, synthetic_batch
from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py')
# 32x48 crops (4x6 stem tokens) keep a step well under a second on one thread.
SMALL = ['--cfg-options', 'crop_size=(32,48)', 'model.teachers.sam.long_side=48']


tool = load_tool('tools/analysis_tools/benchmark_train.py')


@pytest.fixture(scope='module')
def report(tmp_path_factory):
    """fp32 and bf16 side by side, 2 timed steps each, figures also dumped as JSON."""
    out = tmp_path_factory.mktemp('bench') / 'bench.json'
    threads = torch.get_num_threads()
    try:
        payload = tool.main([CFG, '--synthetic', '--batch-size', '2', '--iters', '2',
                             '--precisions', 'fp32', 'bf16', '--gemm-n', '128', '--threads',
                             '1', '--json', str(out)] + SMALL)
    finally:
        torch.set_num_threads(threads)
    with open(out) as f:
        return payload, json.load(f)


def test_every_figure_is_positive_and_consistent(report):
    payload, _ = report
    assert [r['precision'] for r in payload['results']] == ['fp32', 'bf16']
    for r in payload['results']:
        assert r['batch_size'] == 2 and r['input_size'] == [32, 48] and r['synthetic']
        assert len(r['step_times']) == 2 and r['s_per_step'] > 0
        assert r['images_per_s'] == pytest.approx(2 / r['s_per_step'])
        assert r['flops_per_s'] == pytest.approx(r['flops_per_step'] / r['s_per_step'])
        assert r['peak_ratio'] == pytest.approx(r['flops_per_s'] / r['gemm_peak_flops_per_s'])
        assert r['gemm_n'] == 128 and r['gemm_peak_flops_per_s'] > 0
        assert r['peak_memory_bytes'] > 0
        assert r['loader_images_per_s'] is None and r['loader_to_step_ratio'] is None
        split, sec = r['flops_split'], r['phase_seconds']
        for phase in PHASES:
            assert split[phase] >= 0 and sec[phase] >= 0
        # teachers run, the backward is about twice the student forward (weights + inputs)
        assert split['teachers'] > 0 and split['student_fwd'] > 0
        assert 1.5 * split['student_fwd'] < split['backward'] < 2.5 * split['student_fwd']
        assert sum(split[p] for p in PHASES) == pytest.approx(split['total'])
        assert split['total'] == r['flops_per_step']
    fp32, bf16 = payload['results']
    # Same step, same work, whatever the precision; teachers in fp32 for the reference.
    assert fp32['flops_per_step'] == bf16['flops_per_step']
    assert fp32['optim_wrapper'] == 'OptimWrapper'
    assert bf16['optim_wrapper'] == 'AutocastOptimWrapper'


def test_json_matches_the_returned_figures(report):
    payload, dumped = report
    assert dumped['config'] == CFG and dumped['threads'] == 1
    for r, d in zip(payload['results'], dumped['results']):
        for key in ('s_per_step', 'images_per_s', 'flops_per_step', 'peak_ratio'):
            assert d[key] == pytest.approx(r[key])


def test_precision_selection():
    args = tool.parse_args([CFG, '--amp', '--compare-fp32'])
    assert tool.run_precisions(args) == ['fp32', 'bf16']
    assert tool.run_precisions(tool.parse_args([CFG])) == ['fp32']
    assert tool.run_precisions(tool.parse_args([CFG, '--precisions', 'bf16', 'fp32'])) == [
        'bf16', 'fp32']
    with pytest.raises(SystemExit):
        tool.parse_args([CFG, '--iters', '0'])


def test_synthetic_batch_has_valid_ground_truth():
    model = type('M', (), dict(tasks=['semseg', 'depth', 'normals', 'edge'],
                               task_channels=dict(semseg=40, depth=1, normals=3, edge=1)))()
    batch = synthetic_batch(model, 3, (8, 12))
    assert len(batch['inputs']) == 3 and batch['inputs'][0].dtype == torch.uint8
    assert batch['inputs'][0].shape == (3, 8, 12)
    sample = batch['data_samples'][0]
    assert sample.gt_semseg.data.max() < 40 and sample.gt_edge.data.max() <= 1
    assert (sample.gt_depth.data > 0).all()
    assert torch.allclose(sample.gt_normals.data.norm(dim=0), torch.ones(8, 12), atol=1e-5)


def test_missing_config_names_the_file():
    with pytest.raises(FileNotFoundError, match='nope.py'):
        build_benchmark_cfg('nope.py', 'fp32')


@pytest.mark.parametrize('teacher_precision', ['bf16', 'fp16'])
def test_flops_counted_with_half_precision_teachers_sam_included(report, teacher_precision):
    # SAM's relative-position einsum under inference mode + autocast broke the
    # counter (expected scalar type Float but found BFloat16); forcing the
    # teachers' precision makes this run the same on every CPU kind.
    payload, _ = report
    threads = torch.get_num_threads()
    try:
        forced = tool.main([CFG, '--synthetic', '--batch-size', '2', '--iters', '1',
                            '--warmup', '0', '--precisions', 'bf16', '--gemm-n', '64',
                            '--threads', '1'] + SMALL
                           + [f'model.teacher_precision={teacher_precision}'])
    finally:
        torch.set_num_threads(threads)
    result = forced['results'][0]
    assert result['teacher_precision'] == teacher_precision
    fp32 = payload['results'][0]
    assert result['flops_split'] == fp32['flops_split']
    assert result['flops_split']['teachers'] > 0
