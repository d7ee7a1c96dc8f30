"""Decode heads: output shapes, official SAK head structure, errors."""
import pytest
import torch
import torch.nn.functional as F

from sakbox.models.decoders import DPTTaskHead, LinearHead, SAKHead
from sakbox.registry import MODELS


def feats(b=2, c=32, h=4, w=6, n=4):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(b, c, h, w, generator=g) for _ in range(n)]


@pytest.mark.parametrize('cfg,expect', [
    (dict(type='SAKHead'), (16, 24)),                          # grid * 16 / 4
    (dict(type='SAKHead', patch_size=14), (14, 21)),
    (dict(type='SAKHead', embed_dims=4, kernel_size=1), (16, 24)),
    (dict(type='LinearHead'), (4, 6)),
    (dict(type='LinearHead', in_index='concat'), (4, 6)),
    (dict(type='LinearHead', in_index=0, norm_cfg=None), (4, 6)),
    (dict(type='DPTTaskHead', channels=16), (16, 24)),
    (dict(type='DPTTaskHead', channels=8, reassemble_dims=[4, 8, 8, 16]), (16, 24)),
])
@pytest.mark.parametrize('num_classes', [1, 5])
def test_head_shapes_and_grad(cfg, expect, num_classes):
    head = MODELS.build(dict(cfg, in_channels=32, num_classes=num_classes))
    x = [f.requires_grad_() for f in feats()]
    out = head(x)
    assert out.shape == (2, num_classes, *expect)
    out.sum().backward()
    used = [x[cfg['in_index']]] if isinstance(cfg.get('in_index', 'concat'), int) else x
    if cfg['type'] == 'LinearHead' and 'in_index' not in cfg:
        used = [x[-1]]
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in used)


def test_sak_head_input_size_sets_quarter_resolution():
    head = SAKHead(32, 3)
    assert head(feats(), input_size=(70, 90)).shape[-2:] == (17, 22)


def test_sak_head_matches_official_structure():
    """Per-level linear C->C/4, upsample, concat (C), 3x3 conv-BN-GELU, 1x1 conv."""
    head = SAKHead(32, 3).eval()
    x = feats()
    ups = []
    for lin, f in zip(head.linears, x):
        assert lin.in_features == 32 and lin.out_features == 8
        y = torch.einsum('bchw,oc->bohw', f, lin.weight) + lin.bias[None, :, None, None]
        ups.append(F.interpolate(y, size=(16, 24), mode='bilinear', align_corners=False))
    conv, bn, act = head.linear_fuse
    assert conv.in_channels == conv.out_channels == 32 and conv.kernel_size == (3, 3)
    assert isinstance(bn, torch.nn.BatchNorm2d) and isinstance(act, torch.nn.GELU)
    ref = head.last_conv(act(bn(conv(torch.cat(ups, 1)))))
    assert torch.allclose(head(x), ref, atol=1e-5)
    names = {k.split('.')[0] for k in head.state_dict()}
    assert names == {'linears', 'linear_fuse', 'last_conv'}


@pytest.mark.parametrize('head_cls', [SAKHead, LinearHead, DPTTaskHead])
def test_channel_mismatch_names_level(head_cls):
    head = head_cls(32, 2)
    x = feats()
    x[2] = torch.zeros(2, 16, 4, 6)
    with pytest.raises(ValueError, match='level 2'):
        head(x)
    with pytest.raises(ValueError, match='4 feature levels'):
        head(feats(n=3))


def test_bad_args():
    with pytest.raises(ValueError, match='in_index'):
        LinearHead(8, 2, in_index=7)
    with pytest.raises(ValueError, match='one entry per level'):
        DPTTaskHead(8, 2, reassemble_factors=(4, 2))
