"""BottleneckAdapter: residual bottleneck with a learnable scale, official init."""
import pytest
import torch
import torch.nn.functional as F

from sakbox.models.adapters import BottleneckAdapter
from sakbox.registry import MODELS


@pytest.mark.parametrize('channels, ratio, hidden', [(32, 4, 8), (48, 4, 12), (30, 8, 3)])
def test_forward_matches_formula(channels, ratio, hidden):
    a = MODELS.build(dict(type='BottleneckAdapter', in_channels=channels, down_ratio=ratio))
    assert a.down.out_features == hidden and a.up.in_features == hidden
    assert a.scale.item() == 1.0
    assert (a.down.bias == 0).all() and (a.up.bias == 0).all()
    # Official init: torch trunc_normal_(std=0.02) (its default cut is +-2, i.e. ~none).
    w = torch.cat([a.down.weight.flatten(), a.up.weight.flatten()])
    assert 0.014 < w.std().item() < 0.026
    with torch.no_grad():
        a.scale.fill_(0.5)
    x = torch.randn(2, 5, channels)
    ref = x + 0.5 * F.linear(F.gelu(F.linear(x, a.down.weight, a.down.bias)), a.up.weight,
                             a.up.bias)
    torch.testing.assert_close(a(x), ref)


def test_scale_gets_gradient_and_errors():
    a = BottleneckAdapter(16)
    a(torch.randn(1, 3, 16)).sum().backward()
    assert a.scale.grad is not None and a.down.weight.grad is not None
    with pytest.raises(ValueError, match='residual'):
        BottleneckAdapter(16, out_channels=8)
    with pytest.raises(ValueError, match='no hidden units'):
        BottleneckAdapter(2, down_ratio=4)
