"""SAKLightHead: shapes, gradients to every level, structure, cost relative to SAKHead."""
import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from sakbox.models.decoders import SAKHead, SAKLightHead
from sakbox.registry import MODELS


def feats(b=2, c=32, h=4, w=6, n=4, grad=False):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(b, c, h, w, generator=g).requires_grad_(grad) for _ in range(n)]


@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(fuse_stride=4),
    dict(fuse_stride=16),
    dict(depthwise=False, num_refine=0),
    dict(num_refine=2, embed_dims=4, channels=12, kernel_size=5),
])
@pytest.mark.parametrize('num_levels', [1, 2, 4])
@pytest.mark.parametrize('num_classes', [1, 40])
def test_shapes_and_gradients_reach_every_level(kwargs, num_levels, num_classes):
    head = MODELS.build(dict(type='SAKLightHead', in_channels=32, num_classes=num_classes,
                             num_levels=num_levels, **kwargs))
    x = feats(n=num_levels, grad=True)
    out = head(x)
    assert out.shape == (2, num_classes, 16, 24)  # grid * 16 / 4
    out.square().sum().backward()
    for i, f in enumerate(x):
        assert f.grad is not None and f.grad.abs().sum() > 0, f'level {i} gets no gradient'
    assert all(p.grad is not None for p in head.parameters())


@pytest.mark.parametrize('input_size,fuse_stride', [
    ((70, 90), 8), ((70, 90), 4), ((33, 47), 8), ((7, 9), 16), ((96, 128), 8)])
def test_odd_input_sizes_give_quarter_resolution(input_size, fuse_stride):
    head = SAKLightHead(32, 3, fuse_stride=fuse_stride)
    out = head(feats(h=5, w=6), input_size=input_size)
    assert out.shape[-2:] == (input_size[0] // 4, input_size[1] // 4)
    assert head.fuse_size(feats(), input_size) == (max(1, input_size[0] // fuse_stride),
                                                   max(1, input_size[1] // fuse_stride))


def test_patch_size_sets_grid_without_input_size():
    head = SAKLightHead(32, 2, patch_size=8)
    assert head(feats()).shape[-2:] == (8, 12)
    assert head.fuse_size(feats(), None) == (4, 6)  # the stride-8 grid is the input grid


def test_matches_reference_computation():
    """Linear per level, upsample to stride 8, concat, dw 3x3 + pw 1x1 + BN + GELU,
    residual refinement, 1x1 classifier at stride 8, bilinear upsample to stride 4."""
    torch.manual_seed(0)
    head = SAKLightHead(32, 3, channels=16).eval()
    for m in head.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    x = feats()

    def sep(block, y):
        y = F.conv2d(y, block.depthwise_conv.conv.weight, block.depthwise_conv.conv.bias,
                     padding=1, groups=y.shape[1])
        pw = block.pointwise_conv
        return F.gelu(pw.bn(F.conv2d(y, pw.conv.weight, pw.conv.bias)))

    ups = []
    for lin, f in zip(head.linears, x):
        assert (lin.in_features, lin.out_features) == (32, 8)
        y = torch.einsum('bchw,oc->bohw', f, lin.weight) + lin.bias[None, :, None, None]
        ups.append(F.interpolate(y, size=(8, 12), mode='bilinear', align_corners=False))
    y = sep(head.fuse, torch.cat(ups, 1))
    assert y.shape[1] == 16 and head.fuse.depthwise_conv.conv.groups == 32
    y = y + sep(head.refine[0].block, y)
    y = head.last_conv(y)
    ref = F.interpolate(y, size=(16, 24), mode='bilinear', align_corners=False)
    assert torch.allclose(head(x), ref, atol=1e-5)


def _flops(head, x, input_size):
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = head(x, input_size=input_size)
    return counter.get_total_flops(), out.shape


def test_flops_at_nyud_resolution_are_a_fraction_of_sak_head():
    """ViT-B levels (C=768, 448x576 input, 28x36 grid): the light head must cost < 1/10 of
    the SAK head. Counted on the meta device (shapes only, nothing is computed)."""
    size = (448, 576)
    with torch.device('meta'):
        x = [torch.empty(1, 768, 28, 36) for _ in range(4)]
        sak, light = SAKHead(768, 40).eval(), SAKLightHead(768, 40).eval()
    sak_flops, sak_shape = _flops(sak, x, size)
    light_flops, light_shape = _flops(light, x, size)
    assert sak_shape == light_shape == (1, 40, 112, 144)
    # The SAK head is dominated by its dense 3x3 768 -> 768 conv at 112x144.
    assert sak_flops > 2 * 112 * 144 * 768 * 768 * 9
    assert light_flops < sak_flops / 10
    # The light head's largest term: the pointwise 768 -> 384 conv at 56x72.
    assert light_flops > 2 * 56 * 72 * 768 * 384


@pytest.mark.parametrize('kwargs,match', [
    (dict(fuse_stride=2), 'fuse_stride'),
    (dict(fuse_stride=6.5), 'fuse_stride'),
    (dict(kernel_size=2), 'kernel_size'),
    (dict(num_refine=-1), 'num_refine'),
])
def test_bad_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SAKLightHead(32, 2, **kwargs)


def test_level_mismatch_names_level():
    head = SAKLightHead(32, 2)
    x = feats()
    x[1] = torch.zeros(2, 16, 4, 6)
    with pytest.raises(ValueError, match='level 1'):
        head(x)
    with pytest.raises(ValueError, match='4 feature levels'):
        head(feats(n=3))
