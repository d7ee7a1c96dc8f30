"""Sliding-window inference: window positions, stitching of dense / other outputs, errors."""
import itertools
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from sakbox.models.utils import slide_inference, slide_windows


def _mmseg_windows(size, crop, stride):
    """mmseg's EncoderDecoder.slide_inference loop, written out as the reference."""
    (h_img, w_img), (h_crop, w_crop), (h_stride, w_stride) = size, crop, stride
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    out = []
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y1, x1 = h_idx * h_stride, w_idx * w_stride
            y2, x2 = min(y1 + h_crop, h_img), min(x1 + w_crop, w_img)
            y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
            out.append((y1, x1, y2 - y1, x2 - x1))
    return out


def test_windows_follow_mmseg_clamp_the_border_and_shrink_large_crops():
    # 11 rows, crop 4, stride 3: starts 0, 3, 6, then 9 clamped back to 7
    assert sorted({t for t, _, _, _ in slide_windows((11, 13), (4, 5), (3, 4))}) == [0, 3, 6, 7]
    # a crop larger than the image along an axis shrinks to it (one window there)
    assert slide_windows((5, 7), (8, 4), (8, 3)) == [(0, 0, 5, 4), (0, 3, 5, 4)]
    assert slide_windows((20, 28), (64, 64), (32, 32)) == [(0, 0, 20, 28)]
    for size, crop, stride in itertools.product([(7, 9), (16, 24), (33, 50)],
                                                [(4, 4), (8, 12), (16, 32)],
                                                [(1, 2), (3, 4), (4, 4)]):
        assert slide_windows(size, crop, stride) == _mmseg_windows(size, crop, stride)
    with pytest.raises(ValueError, match='positive crop_size and stride'):
        slide_windows((8, 8), (4, 4), (0, 2))


@pytest.mark.parametrize('crop,stride', [((10, 14), (10, 14)), ((8, 12), (4, 8)),
                                         ((12, 12), (5, 7)), ((20, 28), (20, 28))])
def test_per_pixel_model_equals_whole(crop, stride):
    """A 1x1 conv sees every pixel the same in any window: stitched == whole."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 1)
    x = torch.randn(2, 3, 20, 28)
    with torch.no_grad():
        out = slide_inference(lambda c: {'logits': conv(c)}, x, crop, stride)
        ref = conv(x)
    assert out['logits'].shape == ref.shape
    if stride == crop:  # tiles without overlap: each pixel comes from one window
        assert torch.equal(out['logits'], ref)
    else:
        torch.testing.assert_close(out['logits'], ref, rtol=0, atol=1e-6)


def _window_left(crops):
    """Every crop's output is its window's left column (channel 0 holds the column)."""
    return crops[:, :1, :1, :1].expand(-1, -1, *crops.shape[-2:]).clone()


def test_overlaps_are_averaged_with_a_count_map():
    # input columns 0..5 in channel 0; windows of width 4 at left 0 and 2
    x = torch.arange(6.).expand(1, 3, 4, 6).clone()
    out = slide_inference(lambda c: dict(full=_window_left(c),
                                         half=F.avg_pool2d(_window_left(c), 2)),
                          x, (4, 4), (4, 2))
    # columns 0-1 only window 0 (0), 2-3 both (mean 1), 4-5 only window 1 (2)
    assert out['full'][0, 0].tolist() == [[0., 0., 1., 1., 2., 2.]] * 4
    # at 1/2 resolution window 1 lands at cell 1: cells [0, mean(0, 2), 2]
    assert out['half'][0, 0].tolist() == [[0., 1., 2.]] * 2


def test_border_clamped_window_and_three_overlaps():
    # 1 x 8 strip, crop 3, stride 2: windows at 0, 2, 4, then 6 clamped back to 5
    x = torch.arange(8.).expand(1, 3, 1, 8).clone()
    out = slide_inference(lambda c: [_window_left(c)], x, (1, 3), (1, 2))
    assert out[0][0, 0, 0].tolist() == [0., 0., 1., 2., 3., 4.5, 4.5, 5.]
    # stride 1: the middle column is covered by three windows (0, 1, 2)
    x = torch.arange(5.).expand(1, 3, 1, 5).clone()
    out = slide_inference(lambda c: [_window_left(c)], x, (1, 3), (1, 1))
    assert out[0][0, 0, 0].tolist() == [0., 0.5, 1., 1.5, 2.]


def test_non_spatial_outputs_are_averaged_over_windows():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 12, 16)
    windows = slide_windows((12, 16), (8, 8), (4, 4))

    def fn(c):
        return OrderedDict(vec=c.mean((2, 3)),
                           tokens=(c.amax((2, 3))[:, None, :] * torch.arange(1., 5.)[:, None]),
                           nested=dict(pair=(c.sum((1, 2, 3)),)))

    out = slide_inference(fn, x, (8, 8), (4, 4))
    crops = [x[:, :, t:t + h, left:left + w] for t, left, h, w in windows]
    assert isinstance(out, OrderedDict) and isinstance(out['nested']['pair'], tuple)
    torch.testing.assert_close(out['vec'], torch.stack([c.mean((2, 3)) for c in crops]).mean(0))
    assert out['tokens'].shape == (2, 4, 3)
    torch.testing.assert_close(out['tokens'][:, 1], 2 * torch.stack(
        [c.amax((2, 3)) for c in crops]).mean(0))
    torch.testing.assert_close(out['nested']['pair'][0],
                               torch.stack([c.sum((1, 2, 3)) for c in crops]).mean(0))


def test_batch_windows_groups_the_forwards():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1)  # not per-pixel: windows see different borders
    x = torch.randn(2, 3, 16, 24)
    calls = []

    def fn(c):
        calls.append(c.shape)
        return dict(y=conv(c), v=c.mean((2, 3)))

    with torch.no_grad():
        ref = slide_inference(fn, x, (8, 8), (4, 8))  # 3 x 3 = 9 windows, one forward
        assert calls == [(18, 3, 8, 8)]
        calls.clear()
        got = slide_inference(fn, x, (8, 8), (4, 8), batch_windows=4)
    assert calls == [(8, 3, 8, 8), (8, 3, 8, 8), (2, 3, 8, 8)]
    torch.testing.assert_close(got['v'], ref['v'], rtol=0, atol=1e-6)
    torch.testing.assert_close(got['y'], ref['y'], rtol=0, atol=1e-6)
    # by hand for one pixel covered by two windows (rows 4..7 at col 0: tops 0 and 4)
    crops = [x[:, :, 0:8, 0:8], x[:, :, 4:12, 0:8]]
    with torch.no_grad():
        by_hand = (conv(crops[0])[:, :, 5, 0] + conv(crops[1])[:, :, 1, 0]) / 2
    torch.testing.assert_close(ref['y'][:, :, 5, 0], by_hand)


def test_single_window_is_exact_and_outputs_keep_their_dtype():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    x = torch.randn(1, 3, 10, 14)
    with torch.no_grad():
        for crop in [(10, 14), (64, 64)]:
            out = slide_inference(lambda c: dict(y=conv(c), s=c.mean(2)), x, crop, (5, 5))
            assert torch.equal(out['y'], conv(x)) and torch.equal(out['s'], x.mean(2))
        half = slide_inference(lambda c: [conv(c).bfloat16()], x, (10, 8), (10, 6))[0]
    assert half.dtype == torch.bfloat16 and half.shape == (1, 4, 10, 14)


def test_upsampled_and_downsampled_maps():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 2, 1)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        out = slide_inference(
            lambda c: dict(up=F.interpolate(conv(c), scale_factor=2, mode='nearest'),
                           down=F.avg_pool2d(conv(c), 4)), x, (8, 8), (4, 4))
        torch.testing.assert_close(out['up'], F.interpolate(conv(x), scale_factor=2),
                                   rtol=0, atol=1e-6)
        torch.testing.assert_close(out['down'], F.avg_pool2d(conv(x), 4), rtol=0, atol=1e-6)


def test_misaligned_and_unstitchable_outputs_raise():
    x = torch.randn(1, 3, 20, 24)
    pool = lambda c: dict(feat=F.avg_pool2d(c, 4))  # noqa: E731
    # stride 6 is not a multiple of the 4-px cells
    with pytest.raises(ValueError, match=r"'feat'.*start at \[6\] px.*multiples of 4 px "
                                         'along the height'):
        slide_inference(pool, x, (8, 8), (6, 8))
    # the clamped last window (24 - 8 = 16 ok; 20 - 8 = 12 ok) vs an input of 22 rows
    with pytest.raises(ValueError, match=r'start at \[14\] px'):
        slide_inference(pool, torch.randn(1, 3, 22, 24), (8, 8), (4, 8))
    # an axis with one window needs no alignment: 22 rows, one window of 22
    assert slide_inference(pool, torch.randn(1, 3, 22, 24), (32, 8), (4, 8))['feat'].shape \
        == (1, 3, 5, 6)
    # a grid that is not proportional to the window (fixed output size)
    with pytest.raises(ValueError, match='not proportional'):
        slide_inference(lambda c: [F.interpolate(c, size=(4, 4))], x, (8, 16), (4, 8))
    with pytest.raises(TypeError, match="'meta' is a str"):
        slide_inference(lambda c: dict(y=c, meta='x'), x, (8, 8), (8, 8))
    with pytest.raises(ValueError, match="'loss' is a scalar"):
        slide_inference(lambda c: dict(loss=c.sum()), x, (8, 8), (8, 8))
    with pytest.raises(ValueError, match=r"'y' has shape \(1, 3, 8, 8\); expected \(9, 3, 8, 8\)"):
        slide_inference(lambda c: dict(y=c[:1]), x, (8, 8), (8, 8))
    with pytest.raises(ValueError, match='needs inputs'):
        slide_inference(pool, torch.randn(3, 8, 8), (4, 4), (4, 4))
