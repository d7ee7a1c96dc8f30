"""AutocastOptimWrapper: autocast forward, fp32 master weights, no loss scaler."""
import pytest
import torch
import torch.nn as nn

from sakbox.engine.optim_wrappers import AutocastOptimWrapper


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
