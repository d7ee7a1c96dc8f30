"""SpatialMoRRouter: per-token weights (B, E, h, w)."""
import torch

from sakbox.models.routers import SpatialMoRRouter


def test_per_token_weights_and_reference():
    r = SpatialMoRRouter(16, 3, noisy_gating=True).eval()
    stem = torch.randn(2, 16, 3, 4)
    experts = [stem, torch.randn(2, 16, 3, 4), torch.randn(2, 16, 3, 4)]
    mixed, weights = r(stem, experts)
    assert weights.shape == (2, 3, 3, 4)
    torch.testing.assert_close(weights.sum(1), torch.ones(2, 3, 4))
    logits = r.mlp(stem.permute(0, 2, 3, 1))[..., :3].permute(0, 3, 1, 2)
    ref_w = logits.softmax(1)
    torch.testing.assert_close(weights, ref_w)
    torch.testing.assert_close(mixed, sum(ref_w[:, e:e + 1] * experts[e] for e in range(3)))
    r.train()
    assert not torch.allclose(r(stem, experts)[1], r(stem, experts)[1])
