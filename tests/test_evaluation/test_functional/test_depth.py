import numpy as np
import pytest

from sakbox.evaluation.functional import depth_metrics, depth_stats


def test_hand_computed_with_invalid_pixels():
    gt = np.array([[1.0, 2.0, 0.0], [4.0, 80.0, -1.0]])   # 0, 80 and -1 are invalid
    pred = np.array([[2.0, 2.0, 5.0], [-3.0, 1.0, 1.0]])  # -3 becomes 1e-9
    out = depth_metrics(depth_stats(pred, gt))
    p = np.array([2.0, 2.0, 1e-9])
    g = np.array([1.0, 2.0, 4.0])
    assert out['RMSE'] == pytest.approx(np.sqrt(np.mean((p - g) ** 2)))
    assert out['absRel'] == pytest.approx(np.mean(np.abs(p - g) / g))
    assert out['log10'] == pytest.approx(np.mean(np.abs(np.log10(p) - np.log10(g))))
    assert out['delta1'] == pytest.approx(100 / 3)  # only the exact pixel
    assert out['delta3'] == pytest.approx(100 / 3)  # ratio 2 > 1.25**3 = 1.95


def test_rmse_is_pooled_over_pixels_not_images():
    s1 = depth_stats(np.array([[2.0]]), np.array([[1.0]]))              # 1 pixel, err 1
    s2 = depth_stats(np.full((1, 3), 1.0), np.full((1, 3), 1.0))       # 3 pixels, err 0
    assert depth_metrics(s1 + s2)['RMSE'] == pytest.approx(np.sqrt(1 / 4))


def test_no_valid_pixel_gives_nan():
    assert np.isnan(depth_metrics(depth_stats(np.ones((2, 2)), np.zeros((2, 2))))['RMSE'])
