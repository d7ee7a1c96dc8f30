"""Tests of PHI-S (Hadamard-rotated standardisation)."""
import pytest
import torch

from sakbox.models.adaptor_heads import (
    PhiSNormalizer,
    PhiSStatsAccumulator,
    compute_phi_s,
    hadamard_matrix,
)


@pytest.mark.parametrize('dim', [1, 2, 4, 12, 48, 96, 384, 1152])
def test_hadamard_is_orthogonal_with_equal_magnitudes(dim):
    h = hadamard_matrix(dim)
    torch.testing.assert_close(h @ h.T, torch.eye(dim, dtype=h.dtype))
    torch.testing.assert_close(h.abs(), torch.full_like(h, dim**-0.5))


def test_hadamard_fallback_warns_and_is_orthogonal():
    with pytest.warns(UserWarning, match='random rotation'):
        h = hadamard_matrix(10)
    torch.testing.assert_close(h @ h.T, torch.eye(10, dtype=h.dtype))
    with pytest.raises(ValueError, match='dim=10'):
        hadamard_matrix(10, allow_approx=False)


def test_standardises_every_channel_and_inverts():
    torch.manual_seed(0)
    x = torch.randn(4000, 32) @ torch.randn(32, 32) * torch.linspace(0.1, 5, 32) + 2.0
    acc = PhiSStatsAccumulator(32)
    for chunk in x.split(1000):
        acc.update(chunk)
    stats = acc.compute()
    torch.testing.assert_close(stats['mean'], x.double().mean(0).float(), rtol=1e-5, atol=1e-4)
    norm = PhiSNormalizer(32, stats)
    y = norm(x)
    torch.testing.assert_close(y.mean(0), torch.zeros(32), atol=1e-4, rtol=0)
    torch.testing.assert_close(y.var(0), torch.ones(32), atol=1e-3, rtol=0)
    torch.testing.assert_close(norm.inverse(y), x, atol=1e-3, rtol=1e-4)
    # it is a scaled rotation: tx @ tx.T = I / scale**2
    tx = stats['tx'].double()
    torch.testing.assert_close(tx @ tx.T * stats['scale'].double()**2,
                               torch.eye(32, dtype=torch.float64), atol=1e-5, rtol=0)


def test_maps_and_tokens_and_errors():
    norm = PhiSNormalizer(8, dict(mean=torch.randn(8), tx=torch.randn(8, 8)))
    maps = torch.randn(2, 8, 3, 4)
    tokens = maps.flatten(2).transpose(1, 2)
    torch.testing.assert_close(norm(maps).flatten(2).transpose(1, 2), norm(tokens))
    with pytest.raises(ValueError, match='input has 5 channels'):
        norm(torch.randn(2, 5))
    with pytest.raises(ValueError, match='PhiSNormalizer\\(dim=8\\)'):
        norm.set_stats(dict(mean=torch.zeros(4), tx=torch.eye(4)))
    with pytest.raises(ValueError, match='expected mean'):
        compute_phi_s(torch.zeros(3), torch.eye(4))


def test_identity_by_default_and_state_dict_roundtrip():
    norm = PhiSNormalizer(4)
    x = torch.randn(3, 4)
    torch.testing.assert_close(norm(x), x)
    other = PhiSNormalizer(4, dict(mean=torch.ones(4), tx=2 * torch.eye(4)))
    norm.load_state_dict(other.state_dict())
    torch.testing.assert_close(norm(x), 2 * (x - 1))
