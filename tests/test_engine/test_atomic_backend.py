"""AtomicLocalBackend: a failed write never replaces the previous file."""
import os

import pytest
from mmengine.fileio import get_file_backend

from sakbox.engine import AtomicLocalBackend


def test_put_replaces_atomically_and_leaves_no_temp(tmp_path):
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend='atomic_local'))
    assert isinstance(backend, AtomicLocalBackend)
    target = tmp_path / 'iter_1.pth'
    backend.put(b'first', target)
    backend.put(b'second', target)
    assert target.read_bytes() == b'second'
    assert os.listdir(tmp_path) == ['iter_1.pth']


def test_crash_mid_write_keeps_old_file(tmp_path, monkeypatch):
    backend = AtomicLocalBackend()
    target = tmp_path / 'latest.pth'
    backend.put(b'complete checkpoint', target)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt('killed while saving')

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'half', target)
    assert target.read_bytes() == b'complete checkpoint'
    assert os.listdir(tmp_path) == ['latest.pth']
