"""Colour maps of every task: palette lookup, ignore/invalid handling, depth legend, normals."""
import numpy as np
import pytest
import torch

from sakbox.visualization.colormaps import (
    BINARY_IGNORE_GREY,
    as_palette,
    colorize_depth,
    colorize_gray,
    colorize_labels,
    colorize_normals,
    default_palette,
    depth_legend,
    depth_lut,
    depth_range,
    format_depth_range,
    soft_map_to_uint8,
)


def test_default_palette_is_fixed_distinct_and_never_black():
    a, b = default_palette(40), default_palette(40)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (40, 3) and a.dtype == np.uint8
    assert len({tuple(c) for c in a}) == 40
    assert not (a == 0).all(axis=1).any()
    # VOC colour of index 1 is (128, 0, 0): class 0 here.
    assert tuple(a[0]) == (128, 0, 0)


def test_colorize_labels_uses_palette_and_draws_ignore_black():
    palette = [[10, 20, 30], [40, 50, 60], [70, 80, 90]]
    labels = np.array([[0, 1], [2, 255]])
    out = colorize_labels(labels, palette)
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == [10, 20, 30]
    assert out[0, 1].tolist() == [40, 50, 60]
    assert out[1, 0].tolist() == [70, 80, 90]
    assert out[1, 1].tolist() == [0, 0, 0]


def test_colorize_labels_accepts_chw_tensors_and_extends_short_palettes():
    labels = torch.tensor([[[0, 3]]])  # (1, H, W) as in a data sample
    out = colorize_labels(labels.numpy(), [[1, 2, 3]])
    assert out[0, 0].tolist() == [1, 2, 3]
    assert out[0, 1].tolist() == default_palette(4)[3].tolist()
    np.testing.assert_array_equal(as_palette(None, 5), default_palette(5))


@pytest.mark.parametrize('bad', [np.zeros((2, 2, 2), int), np.array([[-1, 0]])])
def test_colorize_labels_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        colorize_labels(bad)


def test_colorize_depth_maps_linearly_and_blacks_invalid():
    depth = np.array([[0.0, 1.0, 2.0, 3.0, -1.0, np.nan]], dtype=np.float32)
    out = colorize_depth(depth, cmap='viridis')
    lut = depth_lut('viridis')
    assert out[0, 1].tolist() == lut[0].tolist()  # near end
    assert out[0, 2].tolist() == lut[128].tolist()  # round(0.5 * 255) = 128
    assert out[0, 3].tolist() == lut[255].tolist()  # far end
    for j in (0, 4, 5):
        assert out[0, j].tolist() == [0, 0, 0]


def test_colorize_depth_is_monotonic_in_the_colour_map():
    depth = np.linspace(0.5, 10.0, 64, dtype=np.float32)[None]
    out = colorize_depth(depth, 0.5, 10.0, cmap='viridis')
    lut = depth_lut('viridis')
    index = {tuple(c): i for i, c in enumerate(lut)}
    positions = [index[tuple(c)] for c in out[0]]
    assert positions == sorted(positions) and positions[0] == 0 and positions[-1] == 255
    # viridis gets lighter with depth: the grey level rises.
    grey = out[0].astype(float) @ [0.299, 0.587, 0.114]
    assert np.all(np.diff(grey) >= -1e-6)


def test_depth_range_prefers_the_first_map_with_valid_pixels():
    assert depth_range(None, np.zeros((2, 2)), np.array([0.0, 2.0, 5.0])) == (2.0, 5.0)
    assert depth_range(np.array([1.0, 4.0]), np.array([0.5, 9.0])) == (1.0, 4.0)
    assert depth_range(np.zeros(3)) == (0.0, 1.0)


def test_depth_legend_writes_the_range_in_metres():
    assert format_depth_range(0.5, 3.2) == ('0.50 m', '3.20 m')
    strip = depth_legend(160, 0.5, 3.2)
    assert strip.shape == (14, 160, 3) and strip.dtype == np.uint8
    # White text on the colour bar (viridis itself has no white).
    white = (strip == 255).all(-1)
    assert white[:, :60].any() and white[:, -60:].any()
    assert not (depth_lut('viridis') == 255).all(-1).any()
    # Another range changes the text.
    assert (depth_legend(160, 0.5, 7.9) != strip).any()


def test_colorize_normals_maps_to_rgb_and_blacks_zero_vectors():
    n = np.zeros((3, 1, 4), dtype=np.float32)
    n[:, 0, 0] = (1, 0, 0)
    n[:, 0, 1] = (0, -1, 0)
    n[:, 0, 2] = (0, 0, 1)
    out = colorize_normals(n)
    assert out.shape == (1, 4, 3)
    assert out[0, 0].tolist() == [255, 128, 128]  # round(127.5) = 128
    assert out[0, 1].tolist() == [128, 0, 128]
    assert out[0, 2].tolist() == [128, 128, 255]
    assert out[0, 3].tolist() == [0, 0, 0]
    np.testing.assert_array_equal(colorize_normals(n.transpose(1, 2, 0)), out)
    with pytest.raises(ValueError, match='normals'):
        colorize_normals(np.zeros((2, 4, 4)))


def test_colorize_gray_soft_and_binary_maps():
    soft = colorize_gray(np.array([[0.0, 0.5, 1.0, 2.0]], dtype=np.float32))
    assert soft[0, :, 0].tolist() == [0, 128, 255, 255]
    assert (soft[..., 0] == soft[..., 1]).all() and (soft[..., 1] == soft[..., 2]).all()
    binary = colorize_gray(np.array([[[0, 1, 255]]]))
    assert binary[0, :, 0].tolist() == [0, 255, BINARY_IGNORE_GREY]


def test_soft_map_to_uint8():
    p = np.array([[[0.0, 0.25, 0.5, 1.0, 1.5]]], dtype=np.float32)
    out = soft_map_to_uint8(p)
    assert out.dtype == np.uint8 and out.shape == (1, 5)
    assert out[0].tolist() == [0, 64, 128, 255, 255]
