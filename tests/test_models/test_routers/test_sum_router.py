"""SumRouter: the 'none' ablation, stem + sum of paths with unit weights."""
import pytest
import torch

from sakbox.registry import MODELS


def test_sum_and_unit_weights():
    r = MODELS.build(dict(type='SumRouter', in_channels=8, num_experts=3))
    assert not list(r.parameters())
    ex = [torch.randn(2, 8, 3, 3) for _ in range(3)]
    mixed, weights = r(ex[0], ex)
    torch.testing.assert_close(mixed, ex[0] + ex[1] + ex[2])
    assert torch.equal(weights, torch.ones(2, 3))
    with pytest.raises(ValueError, match='3 experts, got 2'):
        r(ex[0], ex[:2])
