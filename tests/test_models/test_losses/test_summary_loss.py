"""Tests of the summary cosine loss."""
import pytest
import torch
import torch.nn.functional as F

from sakbox.registry import MODELS


def test_value_matches_reference_and_gradients():
    loss_fn = MODELS.build(dict(type='SummaryCosineLoss', loss_weight=2.0))
    s = torch.randn(4, 8, requires_grad=True)
    t = torch.randn(4, 8)
    loss = loss_fn(s, t)
    ref = 2.0 * (1 - F.cosine_similarity(s, t, dim=1)).mean()
    torch.testing.assert_close(loss, ref)
    loss.backward()
    assert s.grad.abs().sum() > 0


def test_scale_invariance_and_zero_at_match():
    loss_fn = MODELS.build(dict(type='SummaryCosineLoss'))
    t = torch.randn(3, 5)
    assert loss_fn(3.0 * t, t).abs() < 1e-6
    torch.testing.assert_close(loss_fn(-t, t), torch.tensor(2.0))


def test_l1_term_and_weights():
    loss_fn = MODELS.build(dict(type='SummaryCosineLoss', l1_weight=0.5))
    s, t = torch.randn(3, 5), torch.randn(3, 5)
    per = (1 - F.cosine_similarity(s, t, dim=1)
           + 0.5 * F.smooth_l1_loss(s, t, reduction='none').mean(1))
    w = torch.tensor([1.0, 0.0, 3.0])
    torch.testing.assert_close(loss_fn(s, t, weight=w), (per * w).sum() / w.sum())


def test_shape_error():
    loss_fn = MODELS.build(dict(type='SummaryCosineLoss'))
    with pytest.raises(ValueError, match=r'\(2, 4\) and teacher \(2, 5\)'):
        loss_fn(torch.randn(2, 4), torch.randn(2, 5))
