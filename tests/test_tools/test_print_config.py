"""tools/misc/print_config.py (the saving is sakbox.utils.config_dump, tested in
tests/test_utils/test_config_dump.py)."""
import os.path as osp

import pytest
from mmengine.config import Config

from tests.utils import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_synthetic-nyud.py')


def test_prints_the_resolved_config_and_saves_it(capsys, tmp_path):
    tool = load_tool('tools/misc/print_config.py')
    save = tmp_path / 'resolved.yaml'
    cfg = tool.main([CONFIG, '--cfg-options', 'train_cfg.max_iters=5',
                     'model.student.router.type=SumRouter', '--save-path', str(save)])
    printed = capsys.readouterr().out
    # stdout is a config of its own: everything merged, the overrides in
    (tmp_path / 'printed.py').write_text(printed)
    from_stdout = Config.fromfile(str(tmp_path / 'printed.py')).to_dict()
    assert from_stdout == cfg.to_dict() == Config.fromfile(str(save)).to_dict()
    assert from_stdout['train_cfg']['max_iters'] == 5
    assert from_stdout['model']['student']['router']['type'] == 'SumRouter'
    assert from_stdout['model']['data_preprocessor']['size'] == (96, 128)  # from _base_ + file


def test_renamed_types_are_refused_as_in_training():
    tool = load_tool('tools/misc/print_config.py')
    with pytest.raises(ValueError, match=r"task_losses\.semseg\.type: 'CrossEntropyLoss' -> "
                       r"'MultiTaskCrossEntropyLoss'"):
        tool.main([CONFIG, '--cfg-options', 'model.task_losses.semseg.type=CrossEntropyLoss'])
