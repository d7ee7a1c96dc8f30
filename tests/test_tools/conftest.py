"""A real tiny training run shared by the tool tests that read its output."""
import pytest

from tests.utils import run_tool

TOY_CFG = 'tests/fixtures/configs/toy_iter.py'


@pytest.fixture(scope='session')
def toy_run(tmp_path_factory):
    """The work dir of a 6-iteration tools/train.py run of the toy config: training lines
    at iterations 2, 4 and 6, a validation at 6, checkpoints iter_3.pth and iter_6.pth."""
    work = tmp_path_factory.mktemp('toy_run')
    run_tool(['tools/train.py', TOY_CFG, '--work-dir', str(work), '--cfg-options',
              'train_cfg.max_iters=6', 'param_scheduler=[]'])
    return work
