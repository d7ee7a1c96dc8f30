"""Output-level defaults and strict checkpoint loading helpers."""
import pytest
import torch
import torch.nn as nn

from sakbox.models.teachers import (
    CheckpointMismatchError,
    default_out_indices,
    load_state_dict_file,
    load_state_dict_strict,
)
from sakbox.models.teachers.utils import resolve_out_indices


@pytest.mark.parametrize('depth, expected', [
    (12, [2, 5, 8, 11]), (24, [5, 11, 17, 23]), (32, [7, 15, 23, 31]),
    (40, [9, 19, 29, 39]), (27, [6, 13, 20, 26]), (4, [0, 1, 2, 3]), (8, [1, 3, 5, 7])])
def test_default_out_indices(depth, expected):
    assert default_out_indices(depth) == expected


def test_out_indices_errors_and_negative():
    assert resolve_out_indices([-2, -1], 4) == [2, 3]
    with pytest.raises(ValueError, match='out of range'):
        resolve_out_indices([0, 4], 4)
    with pytest.raises(ValueError, match='strictly increasing'):
        resolve_out_indices([2, 1], 4)
    with pytest.raises(ValueError, match='pass out_indices explicitly'):
        default_out_indices(2)


@pytest.mark.parametrize('wrap, ext', [
    (lambda sd: sd, '.pth'),
    (lambda sd: {'state_dict': sd, 'meta': {'epoch': 3}}, '.pth'),
    (lambda sd: {'model': {f'module.{k}': v for k, v in sd.items()}}, '.pt'),
    (lambda sd: sd, '.safetensors'),
])
def test_load_state_dict_file_unwraps(tmp_path, wrap, ext):
    sd = nn.Linear(3, 2).state_dict()
    path = str(tmp_path / f'ckpt{ext}')
    if ext == '.safetensors':
        from safetensors.torch import save_file
        save_file(sd, path)
    else:
        torch.save(wrap(sd), path)
    loaded = load_state_dict_file(path)
    assert loaded.keys() == sd.keys()
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)


def test_load_state_dict_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_state_dict_file(str(tmp_path / 'nope.pth'))
    path = str(tmp_path / 'bad.pth')
    torch.save({'epoch': 3, 'other': {'x': 1}}, path)
    with pytest.raises(ValueError, match='bad.pth is not a state dict'):
        load_state_dict_file(path)


def test_load_strict_names_keys_and_file():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    sd = model.state_dict()
    sd.pop('1.bias')
    sd['2.weight'] = torch.zeros(1)
    sd['0.weight'] = torch.zeros(5, 5)
    with pytest.raises(CheckpointMismatchError) as err:
        load_state_dict_strict(model, sd, 'some/file.pth')
    msg = str(err.value)
    assert 'some/file.pth' in msg and 'missing keys: 1.bias' in msg
    assert 'unexpected keys: 2.weight' in msg and '0.weight (checkpoint (5, 5)' in msg


def test_load_strict_ignore_and_allow():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    ref = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    sd = {k: v for k, v in ref.state_dict().items() if k.startswith('0.')}
    sd['head.weight'] = torch.zeros(1)
    load_state_dict_strict(model, sd, 'f', ignore_unexpected=('head.', ), allow_missing=('1.', ))
    assert torch.equal(model[0].weight, ref[0].weight)
