import numpy as np
import pytest

from sakbox.evaluation.functional import saliency_metrics, saliency_stats, saliency_thresholds


def test_thresholds_are_the_official_float32_arange():
    thr = saliency_thresholds()
    assert thr.dtype == np.float32 and thr.size == 19
    assert thr[0] == np.float32(0.05) and thr[-1] == np.float32(0.95)


def test_hand_computed_maxf_and_iou_with_ignore():
    pred = np.array([[0.9, 0.6, 0.3, 0.0, 0.8]])
    gt = np.array([[1, 1, 1, 0, 255]])  # last pixel ignored
    thr = np.array([0.5, 0.7], dtype=np.float32)
    counts, ious = saliency_stats(pred, gt, thr)
    np.testing.assert_array_equal(counts, [[2, 1], [2, 1], [3, 3]])
    np.testing.assert_allclose(ious, [2 / 3, 1 / 3, 2 / 3])  # t=0.5, t=0.7, then @0.5
    out = saliency_metrics(counts, ious[None], beta_sq=0.3, thresholds=thr)
    # t=0.5: P=1, R=2/3; t=0.7: P=1, R=1/3
    f = [1.3 * (2 / 3) / (0.3 + 2 / 3), 1.3 * (1 / 3) / (0.3 + 1 / 3)]
    assert out['maxF'] == pytest.approx(100 * max(f), rel=1e-6)
    assert out['maxF_threshold'] == pytest.approx(0.5)
    assert out['mIoU'] == pytest.approx(100 * 2 / 3)
    assert out['mIoU@0.5'] == pytest.approx(100 * 2 / 3)


def test_counts_accumulate_over_images_and_empty_union_is_skipped():
    thr = np.array([0.5], dtype=np.float32)
    c1, i1 = saliency_stats(np.array([[0.9, 0.9]]), np.array([[1, 0]]), thr)
    c2, i2 = saliency_stats(np.array([[0.1, 0.1]]), np.array([[0, 0]]), thr)  # empty union
    out = saliency_metrics(c1 + c2, np.stack([i1, i2]), thresholds=thr)
    # P = 1/2, R = 1
    assert out['maxF'] == pytest.approx(100 * 1.3 * 0.5 / (0.3 * 0.5 + 1), rel=1e-6)
    assert np.isnan(i2[0]) and out['mIoU'] == pytest.approx(50.0)
