"""read_checkpoint / check_checkpoint_file: every unreadable file gets one clear message."""
import pickle
import re
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from sakbox.utils import (
    CheckpointError,
    CheckpointNotFoundError,
    check_checkpoint_file,
    read_checkpoint,
)

#: torch's own advice, which sakbox must never repeat.
BLANKET_ADVICE = 'weights_only` set to `False` will likely succeed'


@dataclass
class TrainingState:
    """A custom class pickled into a checkpoint (weights-only loading refuses it)."""

    epoch: int = 3


def _state_dict():
    return {'w': torch.arange(6.).reshape(2, 3), 'b': torch.ones(2)}


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize('fmt', ['zip', 'legacy', 'safetensors'])
@pytest.mark.parametrize('mmap', [False, True])
def test_reads_every_supported_format(tmp_path, fmt, mmap):
    sd = _state_dict()
    path = str(tmp_path / ('w.safetensors' if fmt == 'safetensors' else 'w.pth'))
    if fmt == 'safetensors':
        from safetensors.torch import save_file
        save_file(sd, path)
    else:
        torch.save(sd, path, _use_new_zipfile_serialization=fmt == 'zip')
    assert _equal(read_checkpoint(path, mmap=mmap), sd)
    check_checkpoint_file(path)  # must not raise


def _write(tmp_path, case):
    """Write the unreadable file of ``case``; return its path."""
    path = tmp_path / f'{case}.pth'
    if case == 'empty':
        path.write_bytes(b'')
    elif case == 'text':
        path.write_text('step,loss\n1,0.5\n')
    elif case == 'png':
        path.write_bytes(b'\x89PNG\r\n\x1a\n' + bytes(64))
    elif case == 'html':
        path.write_text('<!DOCTYPE html><html><body>Sign in</body></html>')
    elif case == 'lfs':
        path.write_text('version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n')
    elif case in ('truncated_zip', 'truncated_legacy'):
        torch.save({'w': torch.randn(64, 64)}, path,
                   _use_new_zipfile_serialization=case == 'truncated_zip')
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    elif case == 'plain_pickle':
        with open(path, 'wb') as f:
            pickle.dump({'w': np.zeros(3)}, f, protocol=4)
    elif case == 'custom_class':
        torch.save({'state_dict': _state_dict(), 'train_state': TrainingState()}, path)
    elif case in ('numpy', 'numpy_protocol4'):
        torch.save({'state_dict': _state_dict(), 'stats': np.zeros(3)}, path,
                   pickle_protocol=4 if case == 'numpy_protocol4' else 2)
    elif case == 'module':
        torch.save(torch.nn.Linear(2, 2), path)
    elif case == 'tensor':
        torch.save(torch.zeros(3), path)
    elif case == 'directory':
        path.mkdir()
    return str(path)


@pytest.mark.parametrize('case, expected', [
    ('empty', r'is empty \(0 bytes\)'),
    ('text', r"is not a PyTorch checkpoint: it is a text file \(starting 'step,loss'\)"),
    ('png', r'is not a PyTorch checkpoint: it is a PNG image'),
    ('html', r'it is an HTML page'),
    ('lfs', r'it is a Git LFS pointer, not the weights \(run `git lfs pull`\)'),
    ('truncated_zip', r'is truncated or corrupt: .*central directory'),
    ('truncated_legacy', r'ends early: the file is truncated'),
    ('plain_pickle', r'is a plain Python pickle \(protocol 4, as pickle.dump writes\)'),
    ('tensor', r'holds a Tensor, not a dict'),
    ('directory', r'is a directory, not a checkpoint file'),
])
def test_unreadable_file_gets_its_own_message(tmp_path, case, expected):
    path = _write(tmp_path, case)
    for reader in (read_checkpoint, check_checkpoint_file):
        with pytest.raises(CheckpointError) as err:
            reader(path)
        msg = str(err.value)
        assert msg.startswith(path) and re.search(expected, msg), msg
        assert err.value.path == path and err.value.refused_globals == []


def test_missing_file_is_also_a_file_not_found_error(tmp_path):
    path = str(tmp_path / 'nope.pth')
    with pytest.raises(CheckpointNotFoundError, match=f'checkpoint file not found: {path}$'):
        read_checkpoint(path)
    with pytest.raises(FileNotFoundError):
        check_checkpoint_file(path)


@pytest.mark.parametrize('case, refused', [
    ('custom_class', f'{__name__}.TrainingState'),
    ('numpy', 'numpy.ndarray'),
    ('module', 'torch.nn.modules.linear.Linear'),
])
def test_weights_only_refusal_names_the_class_and_the_safe_ways(tmp_path, case, refused):
    path = _write(tmp_path, case)
    for reader in (read_checkpoint, check_checkpoint_file):
        with pytest.raises(CheckpointError) as err:
            reader(path)
        msg = str(err.value)
        assert msg.startswith(f'{path} holds pickled Python objects that '
                              'torch.load(weights_only=True) refuses: ')
        assert refused in err.value.refused_globals and err.value.weights_only_refused
        assert f'torch.serialization.add_safe_globals([{", ".join(err.value.refused_globals)}])' \
            in msg
        assert 'torch.serialization.safe_globals(' in msg and 're-save only the weights' in msg
        assert BLANKET_ADVICE not in msg and 'weights_only=False' not in msg
    if case == 'numpy':
        assert 'torch.from_numpy' in msg


def test_pickle_protocol_weights_only_cannot_parse_is_named_with_the_objects(tmp_path):
    path = _write(tmp_path, 'numpy_protocol4')
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    msg = str(err.value)
    assert msg.startswith(f'{path} was written with pickle protocol 4 (torch.save(..., '
                          'pickle_protocol=4)), which torch.load(weights_only=True) cannot parse')
    assert 'It also pickles numpy.' in msg and 'numpy.ndarray' in err.value.refused_globals
    assert err.value.weights_only_refused and BLANKET_ADVICE not in msg


def test_the_advice_works_allowing_the_named_class_loads_the_file(tmp_path):
    path = _write(tmp_path, 'custom_class')
    with torch.serialization.safe_globals([TrainingState]):
        ckpt = read_checkpoint(path)
    assert ckpt['train_state'] == TrainingState() and _equal(ckpt['state_dict'], _state_dict())


def test_weights_only_false_is_only_an_explicit_choice(tmp_path):
    path = _write(tmp_path, 'custom_class')
    assert read_checkpoint(path, weights_only=False)['train_state'].epoch == 3


def test_a_zip_that_is_not_a_torch_checkpoint(tmp_path):
    import zipfile
    path = str(tmp_path / 'archive.pth')
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('readme.txt', 'hello')
    with pytest.raises(CheckpointError, match=r'is a zip archive but not a torch.save checkpoint'):
        read_checkpoint(path)


def test_urls_are_left_to_mmengine_by_the_cheap_check():
    check_checkpoint_file('https://example.invalid/weights.pth')  # not fetched, not raised


def test_check_maps_zip_files_instead_of_reading_them(tmp_path, monkeypatch):
    path = str(tmp_path / 'big.pth')
    torch.save({'w': torch.zeros(1 << 16)}, path)
    calls, load = [], torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return load(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', spy)
    check_checkpoint_file(path)
    assert calls == [dict(map_location='cpu', weights_only=True, mmap=True)]
