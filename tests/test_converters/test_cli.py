"""Smoke tests of the converter CLIs (tools/model_converters/*.py) over sakbox.converters."""
import torch

from tests.fixtures.official_sak_checkpoints import (
    official_sak_state_dict,
    official_training_checkpoint,
)
from tests.utils import load_tool

from .test_radio_official import _official_layout, _reference_model


def test_sak_official_to_sakbox_cli(tmp_path, capsys):
    tool = load_tool('tools/model_converters/sak_official_to_sakbox.py')
    off = official_sak_state_dict(embed_dim=32, depth=4)
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'sakbox.pth')
    torch.save(official_training_checkpoint(off), src)
    assert tool.main([src, dst, '--stage', '1']) == 0
    out = capsys.readouterr().out
    assert f'Converted official stage-1 checkpoint {src} -> {dst} (MultiTeacherDistiller)' in out
    assert torch.load(dst, weights_only=True)['meta']['official_stage'] == 1
    # errors: exit status 1 and the reason on stderr, nothing written
    assert tool.main([src, str(tmp_path / 'x.pth'), '--stage', '2']) == 1
    assert '--stage 2' in capsys.readouterr().err
    assert tool.main([dst, str(tmp_path / 'y.pth')]) == 1
    assert 'already converted' in capsys.readouterr().err
    # unmapped keys: named on stderr; --allow-unmapped prints and drops them
    extra = 'mystery.weight'
    torch.save(official_training_checkpoint(dict(off, **{extra: torch.zeros(3)})), src)
    assert tool.main([src, dst]) == 1
    assert extra in capsys.readouterr().err
    assert tool.main([src, dst, '--allow-unmapped']) == 0
    assert f'WARNING: dropped 1 unmapped key(s): {extra}' in capsys.readouterr().out


def test_radio_official_to_sakbox_cli(tmp_path, capsys):
    tool = load_tool('tools/model_converters/radio_official_to_sakbox.py')
    src, dst = str(tmp_path / 'release.pth.tar'), str(tmp_path / 'sakbox.pth')
    torch.save(_official_layout(_reference_model()), src)
    tool.main([src, dst, '--dtype', 'float16'])
    out = capsys.readouterr().out
    ckpt = torch.load(dst, weights_only=True)
    assert f'saved {len(ckpt["state_dict"])} tensors to {dst}' in out
    assert "'backbone_summary_slots': [0]" in out and 'MultiTaskDataPreProcessor' in out
    assert ckpt['state_dict']['student.patch_generator.pos_embed'].dtype == torch.float16
