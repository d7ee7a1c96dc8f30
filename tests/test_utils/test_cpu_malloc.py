"""The cpu_malloc config key: glibc keeps freed CPU memory for reuse."""
import subprocess
import sys
import textwrap

import pytest

from sakbox.utils import cpu_malloc
from sakbox.utils.cpu_malloc import (
    M_MMAP_MAX,
    M_TRIM_THRESHOLD,
    apply_cpu_malloc,
    cpu_malloc_mode,
    retain_freed_cpu_memory,
)


class _FakeLibc:
    def __init__(self, ret=1):
        self.calls, self.ret = [], ret

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return self.ret


def test_retain_sets_mmap_max_and_trim(monkeypatch):
    libc = _FakeLibc()
    monkeypatch.setattr(cpu_malloc, '_libc', lambda: libc)
    assert retain_freed_cpu_memory() is True
    assert libc.calls == [(M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, -1)]


def test_retain_reports_refusal_and_missing_glibc(monkeypatch):
    monkeypatch.setattr(cpu_malloc, '_libc', lambda: _FakeLibc(ret=0))
    assert retain_freed_cpu_memory() is False
    monkeypatch.setattr(cpu_malloc, '_libc', lambda: None)
    assert retain_freed_cpu_memory() is False


def test_mode_default_and_bad_value():
    assert cpu_malloc_mode({}) == 'default'
    assert cpu_malloc_mode({'cpu_malloc': 'retain'}) == 'retain'
    with pytest.raises(ValueError, match=r'cfg\.cpu_malloc.*got .keep.'):
        cpu_malloc_mode({'cpu_malloc': 'keep'})


def test_apply_only_for_retain_without_cuda(monkeypatch):
    libc = _FakeLibc()
    monkeypatch.setattr(cpu_malloc, '_libc', lambda: libc)
    monkeypatch.setattr(cpu_malloc.torch.cuda, 'is_available', lambda: False)
    assert apply_cpu_malloc({'cpu_malloc': 'default'}) is False
    assert libc.calls == []
    assert apply_cpu_malloc({'cpu_malloc': 'retain'}) is True
    monkeypatch.setattr(cpu_malloc.torch.cuda, 'is_available', lambda: True)
    libc.calls.clear()
    assert apply_cpu_malloc({'cpu_malloc': 'retain'}) is False
    assert libc.calls == []


def test_default_runtime_retains():
    from mmengine.config import Config
    cfg = Config.fromfile('configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py')
    assert cpu_malloc_mode(cfg) == 'retain'


_FAULTS = textwrap.dedent('''
    import resource, sys
    import torch
    from sakbox.utils.cpu_malloc import retain_freed_cpu_memory
    if sys.argv[1] == 'retain':
        assert retain_freed_cpu_memory()
    def cycle():
        x = torch.empty(64 * 2**20 // 4)  # 64 MB: above glibc's largest mmap threshold
        x.fill_(1.0)  # touch every page
        del x
    cycle()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(8):
        cycle()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
''')


@pytest.mark.skipif(not sys.platform.startswith('linux') or cpu_malloc._libc() is None,
                    reason='glibc only')
def test_freed_block_is_reused_without_page_faults():
    """Real effect, in fresh interpreters: 8 alloc/free cycles of 64 MB fault
    every page again by default, and at most one cycle's worth with the memory
    retained."""
    def faults(mode):
        out = subprocess.run([sys.executable, '-c', _FAULTS, mode], capture_output=True,
                             text=True, check=True)
        return int(out.stdout.strip().splitlines()[-1])
    pages = 8 * 64 * 2**20 // 4096
    default, retain = faults('default'), faults('retain')
    if default < pages // 4:
        pytest.skip(f'transparent huge pages serve these blocks ({default} faults): '
                    'no per-page faults to compare')
    assert default > pages // 2, (default, retain)
    assert retain < default // 4, (default, retain)  # not every cycle any more
