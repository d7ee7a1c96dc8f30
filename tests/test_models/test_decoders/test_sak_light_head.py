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


CONCAT = dict(fusion='concat', num_context=0)


@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(fuse_stride=8),
    dict(fuse_stride=16, num_context=2),
    dict(depthwise=False, num_context=0),
    dict(num_refine=1, channels=12, kernel_size=5),
    dict(CONCAT, fuse_stride=8, num_refine=1),
    dict(CONCAT, fuse_stride=4),
    dict(CONCAT, fuse_stride=16),
    dict(CONCAT, depthwise=False, num_refine=0),
    dict(CONCAT, num_refine=2, embed_dims=4, channels=12, kernel_size=5),
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


@pytest.mark.parametrize('fusion', [dict(), CONCAT])
@pytest.mark.parametrize('input_size,fuse_stride', [
    ((70, 90), 8), ((70, 90), 4), ((33, 47), 8), ((7, 9), 16), ((96, 128), 8)])
def test_odd_input_sizes_give_quarter_resolution(input_size, fuse_stride, fusion):
    head = SAKLightHead(32, 3, fuse_stride=fuse_stride, **fusion)
    out = head(feats(h=5, w=6), input_size=input_size)
    assert out.shape[-2:] == (input_size[0] // 4, input_size[1] // 4)
    assert head.fuse_size(feats(), input_size) == (max(1, input_size[0] // fuse_stride),
                                                   max(1, input_size[1] // fuse_stride))


def test_patch_size_sets_grid_without_input_size():
    head = SAKLightHead(32, 2, patch_size=8, fuse_stride=8)
    assert head(feats()).shape[-2:] == (8, 12)
    assert head.fuse_size(feats(), None) == (4, 6)  # the stride-8 grid is the input grid


def _eval_with_bn_stats(head):
    torch.manual_seed(0)
    for m in head.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return head.eval()


def _conv_bn_gelu(module, y, groups=1):
    conv = module.conv
    return F.gelu(module.bn(F.conv2d(y, conv.weight, conv.bias, padding=1, groups=groups)))


def test_sum_fusion_matches_reference_computation():
    """The default: per-level linear C -> C, upsample each level to stride 4 and sum
    (the order of SAKHead; the head sums first at the coarse grid, which must agree),
    with a residual dense 3x3 + BN + GELU block at the coarse grid taken before the
    upsampling, then depthwise 3x3 + BN + GELU and the 1x1 classifier at stride 4."""
    torch.manual_seed(0)
    head = _eval_with_bn_stats(SAKLightHead(32, 3))
    assert head.fusion == 'sum' and head.fuse_stride == 4 and len(head.context) == 1
    x = feats()
    y = 0
    for lin, f in zip(head.linears, x):
        assert (lin.in_features, lin.out_features) == (32, 32)
        y = y + torch.einsum('bchw,oc->bohw', f, lin.weight) + lin.bias[None, :, None, None]
    y = y + _conv_bn_gelu(head.context[0].block, y)
    y = F.interpolate(y, size=(16, 24), mode='bilinear', align_corners=False)
    y = _conv_bn_gelu(head.fuse, y, groups=32)
    ref = head.last_conv(y)
    torch.testing.assert_close(head(x), ref, rtol=1e-5, atol=1e-5)


def test_sum_before_resize_equals_resize_before_sum():
    """Without context blocks the coarse-grid sum is exactly SAKHead's order."""
    torch.manual_seed(0)
    head = _eval_with_bn_stats(SAKLightHead(32, 3, num_context=0))
    x = feats()
    ups = [F.interpolate(lin(f.permute(0, 2, 3, 1)).permute(0, 3, 1, 2), size=(16, 24),
                         mode='bilinear', align_corners=False)
           for lin, f in zip(head.linears, x)]
    ref = head.last_conv(head.fuse(sum(ups)))
    torch.testing.assert_close(head(x), ref, rtol=1e-5, atol=1e-5)


def test_concat_fusion_matches_reference_computation():
    """Linear per level, upsample to stride 8, concat, dw 3x3 + pw 1x1 + BN + GELU,
    residual refinement, 1x1 classifier at stride 8, bilinear upsample to stride 4."""
    torch.manual_seed(0)
    head = _eval_with_bn_stats(SAKLightHead(32, 3, channels=16, fuse_stride=8, num_refine=1,
                                            **CONCAT))
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
    # The light head's largest term: the dense 3x3 768 -> 768 context conv at 28x36.
    assert light_flops > 2 * 28 * 36 * 768 * 768 * 9


@pytest.mark.parametrize('kwargs,match', [
    (dict(fuse_stride=2), 'fuse_stride'),
    (dict(fuse_stride=6.5), 'fuse_stride'),
    (dict(kernel_size=2), 'kernel_size'),
    (dict(num_refine=-1), 'num_refine'),
    (dict(num_context=-1), 'num_context'),
    (dict(fusion='concat'), "num_context needs fusion='sum'"),
    (dict(fusion='add'), 'fusion must be one of'),
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
