"""MoRRouter: global noisy-gated softmax mixing of [stem, paths...]."""
import pytest
import torch
import torch.nn.functional as F

from sakbox.models.routers import MoRRouter
from sakbox.registry import MODELS


def _inputs(b=2, c=16, h=3, w=4, e=3):
    stem = torch.randn(b, c, h, w)
    return stem, [stem] + [torch.randn(b, c, h, w) for _ in range(e - 1)]


@pytest.mark.parametrize('noisy, out_dim', [(True, 6), (False, 3)])
def test_structure_and_eval_reference(noisy, out_dim):
    r = MODELS.build(dict(type='MoRRouter', in_channels=16, num_experts=3, noisy_gating=noisy))
    assert [type(m).__name__ for m in r.mlp] == ['Linear', 'LayerNorm', 'GELU', 'Linear']
    assert r.mlp[0].out_features == 8 and r.mlp[3].out_features == out_dim
    r.eval()
    stem, experts = _inputs()
    mixed, weights = r(stem, experts)
    logits = r.mlp(stem.flatten(2).transpose(1, 2)).mean(1)[:, :3]  # clean half
    ref_w = logits.softmax(1)
    torch.testing.assert_close(weights, ref_w)
    ref = sum(ref_w[:, e, None, None, None] * experts[e] for e in range(3))
    torch.testing.assert_close(mixed, ref)
    torch.testing.assert_close(weights.sum(1), torch.ones(2))
    torch.testing.assert_close(r.last_weights, weights)
    mixed2, weights2 = r(stem, experts)  # eval is deterministic
    assert torch.equal(weights, weights2) and torch.equal(mixed, mixed2)


def test_noise_only_in_training():
    torch.manual_seed(0)
    r = MoRRouter(16, 3, noisy_gating=True).train()
    stem, experts = _inputs()
    w1, w2 = r(stem, experts)[1], r(stem, experts)[1]
    assert not torch.allclose(w1, w2)
    torch.testing.assert_close(w1.sum(1), torch.ones(2))
    # The noise std is softplus(raw) + 1e-2 and is learnable: gradients reach it.
    r(stem, experts)[0].sum().backward()
    assert r.mlp[3].weight.grad[3:].abs().sum() > 0
    r_clean = MoRRouter(16, 3, noisy_gating=False).train()
    assert torch.equal(r_clean(stem, experts)[1], r_clean(stem, experts)[1])


def test_noise_statistics_follow_softplus_std():
    r = MoRRouter(8, 2, noisy_gating=True).train()
    with torch.no_grad():
        r.mlp[3].weight.zero_()
        r.mlp[3].bias.copy_(torch.tensor([0., 0., 2., 2.]))  # clean 0, raw std 2
    stem = torch.randn(4096, 8, 1, 1)
    w = r(stem, [stem, stem])[1]
    # logit difference ~ N(0, 2 * s^2), s = softplus(2) + 0.01
    s = F.softplus(torch.tensor(2.)) + 0.01
    diff = torch.log(w[:, 0] / w[:, 1])
    assert diff.std().item() == pytest.approx((2 ** 0.5 * s).item(), rel=0.1)


def test_errors():
    r = MoRRouter(16, 3)
    stem, experts = _inputs(e=2)
    with pytest.raises(ValueError, match='3 experts, got 2'):
        r(stem, experts)
    with pytest.raises(ValueError, match='expert 1 has shape'):
        r(stem, [stem, torch.randn(2, 16, 1, 1), stem])
