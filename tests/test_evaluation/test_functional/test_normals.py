import numpy as np
import pytest

from sakbox.evaluation.functional import (
    angular_error,
    histogram_median,
    normals_metrics,
    normals_stats,
)


def _maps(vectors):
    """(N, 3) vectors -> (3, 1, N) map."""
    return np.asarray(vectors, dtype=np.float64).T[:, None, :]


def test_angles_normalisation_and_ignored_zero_gt():
    pred = _maps([[0, 0, 2], [1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 0, 1]])
    gt = _maps([[0, 0, 1], [0, 0, 3], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    err, valid = angular_error(pred, gt)
    np.testing.assert_allclose(err[0, :4], [0, 90, 90, 45], atol=1e-9)  # zero pred -> 90
    np.testing.assert_array_equal(valid[0], [True, True, True, True, False])
    stats, hist = normals_stats(pred, gt)
    out = normals_metrics(stats, hist)
    assert out['mErr'] == pytest.approx((0 + 90 + 90 + 45) / 4)
    assert out['rmsErr'] == pytest.approx(np.sqrt((90 ** 2 * 2 + 45 ** 2) / 4))
    assert out['11.25'] == pytest.approx(25.0)
    assert out['30'] == pytest.approx(25.0)
    assert abs(out['medErr'] - 67.5) <= 45  # median of 4 values lies between 45 and 90


def test_histogram_median_close_to_exact():
    rng = np.random.default_rng(0)
    vals = rng.uniform(0, 60, 10001)
    hist = np.bincount((vals / 0.05).astype(int), minlength=3600)
    assert histogram_median(hist, 0.05) == pytest.approx(np.median(vals), abs=0.05)
    assert np.isnan(histogram_median(np.zeros(10), 0.05))


def test_shape_errors():
    with pytest.raises(ValueError, match='(3, H, W)'):
        angular_error(np.zeros((3, 2, 2)), np.zeros((3, 2, 3)))
