"""Tests of the RADIO per-teacher adaptor heads."""
import pytest
import torch
import torch.nn.functional as F

from sakbox.models.adaptor_heads import RADIOMLP, RADIOAdaptorHead
from sakbox.registry import MODELS


@pytest.mark.parametrize('upsample_factor,mode', [(1, 'pixel_shuffle'), (2, 'pixel_shuffle'),
                                                  (2, 'bilinear'), (3, 'pixel_shuffle')])
def test_shapes(upsample_factor, mode):
    head = MODELS.build(dict(type='RADIOAdaptorHead', in_channels=32, summary_channels=24,
                             feature_channels=16, hidden_channels=48, num_inner=1,
                             upsample_factor=upsample_factor, upsample_mode=mode))
    out = head(summary=torch.randn(2, 32), features=torch.randn(2, 32, 3, 5))
    assert out['summary'].shape == (2, 24)
    assert out['features'].shape == (2, 16, 3 * upsample_factor, 5 * upsample_factor)


def test_pixel_shuffle_layout_matches_official_sub_token_order():
    """Channel groups are ordered (u1, u2, c): sub-token (i, j) of token (y, x) lands at
    pixel (u*y + i, u*x + j)."""
    torch.manual_seed(0)
    head = RADIOAdaptorHead(8, feature_channels=4, upsample_factor=2)
    feats = torch.randn(1, 8, 2, 3)
    raw = head.feature_mlp(feats.flatten(2).transpose(1, 2))  # (1, 6, 2*2*4)
    out = head.forward_features(feats)
    for y in range(2):
        for x in range(3):
            sub = raw[0, y * 3 + x].reshape(2, 2, 4)
            for i in range(2):
                for j in range(2):
                    torch.testing.assert_close(out[0, :, 2 * y + i, 2 * x + j], sub[i, j])


def test_mlp_structure_and_residual_inner_blocks():
    mlp = RADIOMLP(8, 16, 4, num_inner=2, pre_norm=True)
    keys = set(mlp.state_dict())
    assert {'fc1.weight', 'blocks.1.2.weight', 'final.0.weight', 'final.2.weight',
            'pre_norm.0.weight'} <= keys
    x = torch.randn(5, 8)
    h = mlp.fc1(mlp.pre_norm(x))
    for blk in mlp.blocks:
        h = h + blk(h)
    torch.testing.assert_close(mlp(x), mlp.final(h))
    assert isinstance(mlp.final[1], torch.nn.GELU) and isinstance(mlp.final[0], torch.nn.LayerNorm)


def test_partial_heads_and_errors():
    head = RADIOAdaptorHead(16, feature_channels=8)
    assert head.summary_mlp is None
    assert set(head(summary=torch.randn(1, 16), features=torch.randn(1, 16, 2, 2))) == {'features'}
    with pytest.raises(RuntimeError, match='summary_channels=None'):
        head.forward_summary(torch.randn(1, 16))
    with pytest.raises(ValueError, match=r'expected features \(B, 16, h, w\)'):
        head.forward_features(torch.randn(1, 12, 2, 2))
    with pytest.raises(ValueError, match='upsample_mode'):
        RADIOAdaptorHead(16, feature_channels=8, upsample_mode='nearest')


def test_bilinear_mode_equals_interpolated_mlp():
    torch.manual_seed(0)
    head = RADIOAdaptorHead(8, feature_channels=4, upsample_factor=2, upsample_mode='bilinear')
    feats = torch.randn(1, 8, 3, 3)
    base = head.feature_mlp(feats.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(1, 4, 3, 3)
    ref = F.interpolate(base, scale_factor=2, mode='bilinear', align_corners=False)
    torch.testing.assert_close(head.forward_features(feats), ref)
