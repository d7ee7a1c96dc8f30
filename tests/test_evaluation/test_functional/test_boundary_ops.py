import numpy as np
import pytest

from sakbox.evaluation.functional import (
    conv_tri,
    edge_nms,
    edge_orientation,
    seg2bmap,
    thin,
    thin_points,
)


@pytest.mark.parametrize('seed', range(4))
def test_thin_matches_skimage_bwmorph_equivalent(seed):
    morphology = pytest.importorskip('skimage.morphology')
    rng = np.random.default_rng(seed)
    for _ in range(25):
        h, w = rng.integers(3, 30, 2)
        mask = rng.random((h, w)) < rng.uniform(0.1, 0.9)
        np.testing.assert_array_equal(thin(mask), morphology.thin(mask))


def test_thin_keeps_lines_and_thins_bars():
    line = np.zeros((7, 9), bool)
    line[3, 1:8] = True
    np.testing.assert_array_equal(thin(line), line)
    bar = np.zeros((7, 12), bool)
    bar[2:5, 1:11] = True
    out = thin(bar)
    assert out.sum() < bar.sum() and (out.sum(0)[2:9] == 1).all()  # one pixel per column
    ys, xs = thin_points(*np.nonzero(bar), bar.shape)
    np.testing.assert_array_equal(np.stack(np.nonzero(out)), np.stack([ys, xs]))


def test_seg2bmap_hand_worked():
    seg = np.array([[1, 1, 2],
                    [1, 1, 2],
                    [3, 3, 3]])
    # last column compares only south, last row only east, the corner never
    expected = np.array([[0, 1, 0],
                         [1, 1, 1],
                         [0, 0, 0]], bool)
    np.testing.assert_array_equal(seg2bmap(seg), expected)


def test_conv_tri_kernels_and_symmetric_border():
    x = np.zeros((1, 7), np.float32)
    x[0, 3] = 1
    out = conv_tri(np.repeat(x, 3, 0), 1)[1]
    np.testing.assert_allclose(out[2:5], [0.25, 0.5, 0.25], atol=1e-7)
    const = np.full((6, 6), 0.7, np.float32)
    np.testing.assert_allclose(conv_tri(const, 4), const, atol=1e-6)  # symmetric padding


def test_nms_keeps_the_ridge_of_a_blurred_line():
    img = np.zeros((24, 24), np.float32)
    img[:, 11] = 1.0
    edge = conv_tri(conv_tri(img, 1), 1)
    out = edge_nms(edge, edge_orientation(edge), r=4, s=5, m=1.01)
    rows = slice(6, 18)  # away from the damped border
    assert (out[rows, 11] > 0).all()
    assert (out[rows, :11] == 0).all() and (out[rows, 12:] == 0).all()
    assert (out[0] == 0).all()  # border damping: the first row is scaled by 0


def test_nms_matches_the_edgesnmsmex_port_of_pyedgeeval():
    pee = pytest.importorskip('pyEdgeEval')
    rng = np.random.default_rng(0)
    img = np.zeros((60, 80), np.float32)
    img[20, 10:70] = img[10:50, 40] = 1
    noisy = np.clip(conv_tri(img, 2) * 3 + rng.random(img.shape) * 0.3, 0, 1)
    edge = conv_tri(np.floor(noisy * 255) / 255, 1)
    ori = edge_orientation(edge)
    ours = edge_nms(edge, ori, r=4, s=5, m=1.01)
    ref = pee.nms(edge.astype(np.float64), ori.astype(np.float64), r=4, s=5, m=1.01)
    np.testing.assert_array_equal(ours > 0, ref > 0)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
