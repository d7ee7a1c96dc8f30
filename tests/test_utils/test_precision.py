"""Precision names ('auto' and the CPU bf16 detection, with its override)."""
import pytest
import torch

from sakbox.utils.precision import (
    NATIVE_BF16_ENV,
    bf16_supported,
    cpu_has_native_bf16,
    resolve_precision,
)


@pytest.mark.parametrize('forced, native, auto', [
    ('1', True, torch.bfloat16), ('0', False, torch.float32)])
def test_env_override_decides_auto_on_cpu(monkeypatch, forced, native, auto):
    monkeypatch.setenv(NATIVE_BF16_ENV, forced)
    assert bf16_supported('cpu') is native
    assert resolve_precision('auto', 'cpu') == auto
    # explicit names never depend on the host
    assert resolve_precision('bf16', 'cpu') == torch.bfloat16
    assert resolve_precision('fp32', 'cpu') == torch.float32


def test_without_override_auto_follows_cpuinfo(monkeypatch):
    monkeypatch.delenv(NATIVE_BF16_ENV, raising=False)
    with open('/proc/cpuinfo') as f:
        flags = f.read()
    native = 'amx_bf16' in flags or 'avx512_bf16' in flags
    assert cpu_has_native_bf16() is native
    assert bf16_supported('cpu') is native
    assert resolve_precision('auto', 'cpu') == (torch.bfloat16 if native else torch.float32)


def test_bad_override_and_bad_precision_name_raise(monkeypatch):
    monkeypatch.setenv(NATIVE_BF16_ENV, 'yes')
    with pytest.raises(ValueError, match=NATIVE_BF16_ENV):
        bf16_supported('cpu')
    with pytest.raises(ValueError, match="'int8'"):
        resolve_precision('int8', 'cpu')
