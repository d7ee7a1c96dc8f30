"""AutocastOptimWrapper and the precision names ('auto' and the CPU bf16 detection)."""
import pytest
import torch
import torch.nn as nn

from sakbox.engine.optim_wrappers import (
    NATIVE_BF16_ENV,
    AutocastOptimWrapper,
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


@pytest.mark.parametrize('dtype, torch_dtype', [('bfloat16', torch.bfloat16),
                                                ('float16', torch.float16)])
def test_wrapper_autocasts_forward_and_steps(dtype, torch_dtype):
    torch.manual_seed(0)
    model = nn.Linear(8, 4)
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                                   dtype=dtype, device_type='cpu')
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 8))
    assert out.dtype == torch_dtype
    wrapper.update_params(out.float().pow(2).mean())
    assert model.weight.dtype == torch.float32  # master weights stay fp32
    assert not torch.equal(model.weight, before)
