"""The official-step comparison: both sides in their own processes, phases, report.

The official side runs on a tiny stand-in of the official code
(:mod:`tests.fixtures.fake_official_sak`), the sakbox side on the tiny SAK demo
config; one CLI run gives the figures every test reads.
"""
import json
import os.path as osp
import subprocess
import sys

import pytest

from sakbox.analysis.official_sak_step import check_official_root
from sakbox.analysis.step_comparison import PHASES, format_comparison, run_side
from tests.fixtures.fake_official_sak import write_fake_official_sak

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_synthetic-nyud.py')
TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'compare_official_step.py')


@pytest.fixture(scope='module')
def cli_run(tmp_path_factory):
    """One ``compare_official_step.py`` run: (stdout, [official figures, sakbox figures])."""
    tmp = tmp_path_factory.mktemp('compare')
    fake = write_fake_official_sak(str(tmp / 'official'))
    out = tmp / 'figures.json'
    proc = subprocess.run(
        [sys.executable, TOOL, '--official-root', fake, '--config', TINY, '--batch-size', '2',
         '--iters', '2', '--warmup', '1', '--threads', '1', '--json', str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout, json.loads(out.read_text())


def _check_phases(result):
    sec, flops = result['phase_seconds'], result['flops_split']
    assert set(sec) == set(PHASES) and set(flops) == set(PHASES)
    parts = sum(sec[p] for p in PHASES if p != 'total')
    assert parts == pytest.approx(sec['total'], rel=1e-6, abs=1e-9)
    assert all(v >= 0 for v in sec.values())
    assert flops['backward'] > flops['student_fwd'] > 0  # backward costs ~2x the forward
    assert flops['teachers'] > 0 and flops['optim'] == 0
    assert len(result['step_times']) == 2 and result['peak_memory_bytes'] > 0
    assert result['batch_size'] == 2 and result['input_size'] == [96, 128]


def test_official_side_runs_the_official_step_with_random_weights(cli_run):
    official = cli_run[1][0]
    assert official['side'] == 'official' and official['threads'] == 1
    _check_phases(official)
    # the fake student: a 4x4 stem conv (3 -> 8), one 1x1 head per task (8 -> 3), one
    # 1x1 aligner per teacher (8 -> 8); it raises if asked for pretrained weights
    tasks, teachers = 4, 3
    assert official['params'] == (3 * 8 * 16 + 8) + tasks * (8 * 3 + 3) + teachers * (8 * 8 + 8)


def test_sakbox_side_is_the_fp32_train_step(cli_run):
    ours = cli_run[1][1]
    assert ours['side'] == 'sakbox' and ours['precision'] == 'fp32'
    assert ours['teacher_precision'] == 'fp32' and ours['synthetic'] is True
    _check_phases(ours)


def test_report_gives_every_phase_and_the_ratios(cli_run):
    stdout, (official, ours) = cli_run
    report = format_comparison([official, ours])
    assert report in stdout
    rows = {line.split()[0]: line.split() for line in report.splitlines()[2:7]}
    assert sorted(rows) == sorted(PHASES)
    for phase in PHASES:  # official s, sakbox s, ..., sakbox/official (3 digits)
        ratio = ours['phase_seconds'][phase] / official['phase_seconds'][phase]
        assert float(rows[phase][-1]) == pytest.approx(ratio, rel=5.1e-3)  # 3 digits
    speed = official['s_per_step'] / ours['s_per_step']
    assert f'sakbox vs official: step x{speed:.3f} faster' in report
    mem = ours['peak_memory_bytes'] / official['peak_memory_bytes']
    assert f'memory {mem:.3f} of official' in report


def test_failed_side_reports_the_child_error(tmp_path):
    with pytest.raises(RuntimeError, match=r"'official' side failed[\s\S]*missing train_s2\.py"):
        run_side('official', TINY, str(tmp_path), batch_size=1, iters=1, warmup=0, timeout=300)


def test_check_official_root_names_missing_files(tmp_path):
    (tmp_path / 'train_s2.py').write_text('')
    with pytest.raises(FileNotFoundError, match=r'missing losses\.py, models/mt_distiller\.py'):
        check_official_root(str(tmp_path))
