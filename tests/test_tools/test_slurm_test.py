"""tools/slurm_test.sh: the srun command line it builds, checked with a fake ``srun``."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from tests.test_tools.conftest import TOY_CFG
from tests.utils import REPO_ROOT, run_tool

SCRIPT = 'tools/slurm_test.sh'
#: Records its arguments (NUL-separated) and, with FAKE_SRUN_EXEC=1, runs the command
#: after the srun options as a single process (--launcher slurm -> none).
FAKE_SRUN = r'''#!/usr/bin/env bash
printf '%s\0' "$@" > "$FAKE_SRUN_RECORD"
[ "${FAKE_SRUN_EXEC:-0}" = 1 ] || exit 0
while [ $# -gt 0 ] && [ "$1" != python ]; do shift; done
args=()
for a in "$@"; do [ "$a" = slurm ] && a=none; args+=("$a"); done
exec "${args[@]}"
'''


@pytest.fixture
def fake_srun(tmp_path):
    """PATH with a fake srun (and this interpreter as ``python``); the record file."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text(FAKE_SRUN)
    (bin_dir / 'srun').chmod(0o755)
    os.symlink(sys.executable, bin_dir / 'python')
    record = tmp_path / 'srun_args'
    env = dict(PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}', FAKE_SRUN_RECORD=str(record))
    return env, record


def _recorded(record):
    return record.read_bytes().decode().split('\0')[:-1]


def test_script_parses():
    subprocess.run(['bash', '-n', osp.join(REPO_ROOT, SCRIPT)], check=True)


def test_srun_command_line_mirrors_slurm_train(fake_srun):
    env, record = fake_srun
    env.update(GPUS='4', GPUS_PER_NODE='2', CPUS_PER_TASK='3',
               SRUN_ARGS='--quotatype=auto --exclusive')
    run_tool(['bash', SCRIPT, 'gpu_part', 'eval_job', 'configs/sak_nyud.py', 'best.pth',
              '--work-dir', 'work dir', '--out', 'p.pkl'], env=env)
    assert _recorded(record) == [
        '-p', 'gpu_part', '--job-name=eval_job', '--gres=gpu:2', '--ntasks=4',
        '--ntasks-per-node=2', '--cpus-per-task=3', '--kill-on-bad-exit=1', '--quotatype=auto',
        '--exclusive', 'python', '-u', osp.join(REPO_ROOT, 'tools', 'test.py'),
        'configs/sak_nyud.py', 'best.pth', '--launcher', 'slurm', '--work-dir', 'work dir',
        '--out', 'p.pkl']


def test_defaults_and_usage(fake_srun):
    env, record = fake_srun
    run_tool(['bash', SCRIPT, 'p', 'j', 'c.py', 'k.pth'], env=env)
    args = _recorded(record)
    assert args[2:7] == ['--job-name=j', '--gres=gpu:8', '--ntasks=8', '--ntasks-per-node=8',
                         '--cpus-per-task=5']
    assert args[-4:] == ['c.py', 'k.pth', '--launcher', 'slurm']
    proc = run_tool(['bash', SCRIPT, 'p', 'j', 'c.py'], env=env, check=False)
    assert proc.returncode == 2 and 'usage:' in proc.stderr


def test_the_command_evaluates_a_checkpoint(fake_srun, toy_run, tmp_path):
    env, record = fake_srun
    env.update(FAKE_SRUN_EXEC='1', GPUS='1', GPUS_PER_NODE='1')
    work = tmp_path / 'test_work'
    proc = run_tool(['bash', SCRIPT, 'p', 'j', TOY_CFG, str(toy_run / 'iter_6.pth'),
                     '--work-dir', str(work)], env=env)
    assert 'toy/mse' in proc.stdout
    with open(work / 'metrics.json') as f:
        assert json.load(f)['metrics']['toy/num_samples'] == 7
