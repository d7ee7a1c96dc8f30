import numpy as np
import pytest

from sakbox.evaluation.functional import (
    BoundaryMatcher,
    boundary_counts,
    boundary_gt,
    boundary_metrics,
    boundary_thresholds,
    prepare_boundary_map,
    thin,
)

RAW = dict(nms=False, gt_seg2bmap=False)  # compare the maps themselves


def _rectangle_edges(h=120, w=160, top=20, left=25, bottom=95, right=130):
    """Outline of a rectangle; the 200-px diagonal makes max_dist 0.011 a 2.2 px radius."""
    gt = np.zeros((h, w), np.uint8)
    gt[top, left:right + 1] = gt[bottom, left:right + 1] = 1
    gt[top:bottom + 1, left] = gt[top:bottom + 1, right] = 1
    return gt


def _ods(pred, gt, max_dist=0.011, **kwargs):
    return boundary_metrics(boundary_counts(pred, gt, max_dist, **kwargs)[None])


def test_thresholds_are_seism_parameters():
    thr = boundary_thresholds(99)
    assert thr.size == 99 and thr[0] == 0.01 and thr[49] == 0.5 and thr[-1] == 0.99


def test_identical_maps_give_perfect_scores():
    gt = _rectangle_edges()
    out = _ods(gt.astype(np.float32), gt, **RAW)
    assert out['odsF'] == 100 and out['oisF'] == 100
    # the full SEISM pipeline (NMS, seg2bmap ground truth) is ~perfect too
    assert _ods(gt.astype(np.float32), gt)['odsF'] > 97


def test_shift_within_and_beyond_max_dist():
    gt = _rectangle_edges()
    shifted = np.roll(gt, 1, axis=1).astype(np.float32)
    assert _ods(shifted, gt, **RAW)['odsF'] == pytest.approx(100)
    assert _ods(shifted, gt)['odsF'] > 97
    far = np.roll(gt, 4, axis=1).astype(np.float32)  # beyond the 2.2 px radius
    assert _ods(far, gt, **RAW)['odsF'] < 60
    assert _ods(far, gt)['odsF'] < 60
    assert _ods(far, gt, max_dist=0.025, **RAW)['odsF'] == pytest.approx(100)  # 5 px radius


def test_empty_prediction_scores_zero():
    gt = _rectangle_edges()
    out = _ods(np.zeros(gt.shape, np.float32), gt)
    assert out['odsF'] == 0 and out['oisF'] == 0 and out['AP'] == 0


def test_hand_worked_counts_and_scores():
    """10-pixel gt line; 5 pixels found at 0.9, 10 false ones (6 px away) at 0.4."""
    gt = np.zeros((20, 20), np.uint8)
    gt[5:15, 10] = 1
    pred = np.zeros((20, 20), np.float32)
    pred[5:10, 10] = 0.9
    pred[5:15, 16] = 0.4
    counts = boundary_counts(pred, gt, 0.1, **RAW)  # radius 2.83 px
    thr = boundary_thresholds(99)
    low, mid = thr <= 0.4, (thr > 0.4) & (thr <= 229 / 255)  # 0.9 -> uint8 229
    np.testing.assert_array_equal(counts[:, low].T, [[5, 10, 5, 15]] * low.sum())
    np.testing.assert_array_equal(counts[:, mid].T, [[5, 10, 5, 5]] * mid.sum())
    np.testing.assert_array_equal(counts[:, ~(low | mid)].T, [[0, 10, 0, 0]] * (~(low | mid)).sum())
    out = boundary_metrics(counts[None])
    # F: 2*(1/3)(1/2)/(5/6) = 0.4 low, 2/3 mid, 0 high; AP: precision from 1 (R=0)
    # to 1/3 (R=0.5) on recalls 0:0.01:0.5 -> sum 34 / 100
    assert out['odsF'] == pytest.approx(200 / 3)
    assert out['odsT'] == pytest.approx(0.41)
    assert out['oisF'] == pytest.approx(200 / 3)
    assert out['AP'] == pytest.approx(34.0)


def test_ignored_pixels_drop_prediction_and_ground_truth():
    gt = _rectangle_edges()
    pred = gt.astype(np.float32)
    pred[2, 2:40] = 1  # a false boundary...
    gt_ignore = gt.copy()
    gt_ignore[:5] = 255  # ...inside an ignored region
    assert _ods(pred, gt_ignore, **RAW)['odsF'] == 100


def test_warm_started_counts_equal_independent_matchings():
    """boundary_counts reuses matchings across thresholds; each count must stay exact."""
    rng = np.random.default_rng(3)
    gt = _rectangle_edges()
    gt[40:80, 70] = 1
    pred = np.clip(np.roll(gt, 1, 0) * rng.uniform(0.2, 1, gt.shape)
                   + rng.uniform(0, 0.6, gt.shape) * (rng.random(gt.shape) < 0.3), 0, 1)
    thr = boundary_thresholds(19)
    counts = boundary_counts(pred.astype(np.float32), gt, 0.03, thresholds=thr, **RAW)
    matcher = BoundaryMatcher(boundary_gt(gt, use_seg2bmap=False), 0.03)
    prob = prepare_boundary_map(pred, nms=False)
    for k, t in enumerate(thr):
        assert counts[0, k] == matcher.count(thin(prob >= t)), t


def test_fast_matcher_agrees_with_bsds():
    pytest.importorskip('pyEdgeEval')
    rng = np.random.default_rng(0)
    gt = _rectangle_edges()
    gt[40:60, 70] = 1
    pred = np.clip(np.roll(gt, 1, 0) * rng.uniform(0.3, 1, gt.shape)
                   + rng.uniform(0, 0.4, gt.shape) * (rng.random(gt.shape) < 0.1), 0, 1)
    thr = [0.1, 0.3, 0.5, 0.7]
    fast = boundary_counts(pred.astype(np.float32), gt, 0.05, thresholds=thr)
    bsds = boundary_counts(pred.astype(np.float32), gt, 0.05, thresholds=thr, matcher='bsds')
    np.testing.assert_array_equal(fast[[1, 3]], bsds[[1, 3]])
    assert np.abs(fast[0] - bsds[0]).max() <= max(2, 0.01 * fast[1, 0])
