"""FeatureDistillLoss: official formula, resizing rule, variants."""
import pytest
import torch
import torch.nn.functional as F

from sakbox.models.losses import FeatureDistillLoss, match_feature_sizes


def official_level(s, t):
    """Official SAK 'cos+l1' for one level, on maps of equal size."""
    cos = F.cosine_embedding_loss(s.flatten(1), t.flatten(1), torch.ones(s.shape[0]))
    return 0.9 * cos + 0.1 * F.smooth_l1_loss(s, t)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def test_cos_l1_matches_official_and_hand(gen):
    s = [torch.randn(2, 8, 4, 5, generator=gen) for _ in range(3)]
    t = [torch.randn(2, 8, 4, 5, generator=gen) for _ in range(3)]
    losses = FeatureDistillLoss()(s, t)
    assert len(losses) == 3
    for li, si, ti in zip(losses, s, t):
        assert torch.allclose(li, official_level(si, ti))
        cos = F.cosine_similarity(si.flatten(1), ti.flatten(1), dim=1)
        d = (si - ti).abs()
        sl1 = torch.where(d < 1, 0.5 * d ** 2, d - 0.5).mean()
        assert torch.allclose(li, 0.9 * (1 - cos).mean() + 0.1 * sl1, atol=1e-6)


def test_identical_features_give_zero(gen):
    x = [torch.randn(2, 4, 3, 3, generator=gen)]
    assert FeatureDistillLoss()(x, x)[0].abs() < 1e-6


@pytest.mark.parametrize('s_hw,t_hw,expect', [
    ((4, 5), (6, 7), (6, 7)),   # teacher taller -> student upsampled
    ((6, 7), (4, 5), (6, 7)),   # student taller -> teacher upsampled
    ((4, 9), (4, 5), (4, 9)),   # same height -> teacher resized to student (official)
])
def test_resizing_to_larger_grid(gen, s_hw, t_hw, expect):
    s = torch.randn(1, 3, *s_hw, generator=gen)
    t = torch.randn(1, 3, *t_hw, generator=gen)
    a, b = match_feature_sizes(s, t)
    assert a.shape[-2:] == b.shape[-2:] == expect
    loss = FeatureDistillLoss()([s], [t])[0]
    if s_hw == expect:
        ref = official_level(s, F.interpolate(t, size=expect, mode='bilinear',
                                              align_corners=False))
    else:
        ref = official_level(F.interpolate(s, size=expect, mode='bilinear',
                                           align_corners=False), t)
    assert torch.allclose(loss, ref)


def test_variants(gen):
    s = torch.randn(2, 4, 3, 3, generator=gen)
    t = torch.randn(2, 4, 3, 3, generator=gen)
    cos = FeatureDistillLoss('cos')([s], [t])[0]
    assert torch.allclose(cos, F.cosine_embedding_loss(s.flatten(1), t.flatten(1),
                                                       torch.ones(2)))
    for kind in ('l2', 'mse'):
        assert torch.allclose(FeatureDistillLoss(kind)([s], [t])[0], F.mse_loss(s, t))
    tok = FeatureDistillLoss('cos', cos_mode='token')([s], [t])[0]
    assert torch.allclose(tok, (1 - F.cosine_similarity(s, t, dim=1)).mean())
    w = FeatureDistillLoss(cos_weight=0.5, l1_weight=0.5, loss_weight=2.0)([s], [t])[0]
    ref = 2 * (0.5 * cos + 0.5 * F.smooth_l1_loss(s, t))
    assert torch.allclose(w, ref)


def test_gradient_only_to_student(gen):
    s = torch.randn(1, 4, 2, 2, generator=gen, requires_grad=True)
    t = torch.randn(1, 4, 3, 3, generator=gen)
    FeatureDistillLoss()([s], [t])[0].backward()
    assert s.grad is not None and s.grad.abs().sum() > 0


def test_errors_name_the_level():
    s = [torch.zeros(1, 4, 2, 2), torch.zeros(1, 4, 2, 2)]
    t = [torch.zeros(1, 4, 2, 2), torch.zeros(1, 8, 2, 2)]
    with pytest.raises(ValueError, match='level 1'):
        FeatureDistillLoss()(s, t)
    with pytest.raises(ValueError, match='levels'):
        FeatureDistillLoss()(s, t[:1])
    with pytest.raises(ValueError, match='loss_type'):
        FeatureDistillLoss('kl')
