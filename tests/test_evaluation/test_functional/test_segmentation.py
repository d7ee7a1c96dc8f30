import numpy as np
import pytest

from sakbox.evaluation.functional import segmentation_areas, segmentation_metrics


def test_areas_hand_computed_with_ignore_and_out_of_range():
    gt = np.array([[0, 0, 1, 1],
                   [2, 2, 255, 1]])
    pred = np.array([[0, 1, 1, 1],
                     [2, 0, 0, 7]])  # 7 is out of range: counts for no class
    areas = segmentation_areas(pred, gt, num_classes=3)
    # rows: intersect, union, pred area, gt area (the 255 pixel is skipped)
    np.testing.assert_array_equal(areas, [[1, 2, 1],
                                          [3, 4, 2],
                                          [2, 3, 1],
                                          [2, 3, 2]])


def test_metrics_from_areas_official_absent_class_is_zero():
    gt = np.array([[0, 0, 1, 1], [2, 2, 255, 1]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 0, 7]])
    total = segmentation_areas(pred, gt, num_classes=4)  # class 3 absent everywhere
    out = segmentation_metrics(total, 'zero')
    iou = [1 / 3, 2 / 4, 1 / 2]
    assert out['mIoU'] == pytest.approx(100 * (sum(iou) + 0) / 4)
    assert np.isnan(out['IoU'][3])
    assert out['aAcc'] == pytest.approx(100 * 4 / 7)
    ignore = segmentation_metrics(total, 'ignore')
    assert ignore['mIoU'] == pytest.approx(100 * sum(iou) / 3)


def test_dataset_pooling_is_not_a_mean_of_images():
    a = segmentation_areas(np.array([[0, 0, 0, 1]]), np.array([[0, 0, 0, 0]]), 2)
    b = segmentation_areas(np.array([[1]]), np.array([[1]]), 2)
    out = segmentation_metrics(a + b, 'zero')
    # class 0: I=3, U=4; class 1: I=1, U=2
    assert out['mIoU'] == pytest.approx(100 * (3 / 4 + 1 / 2) / 2)


def test_bad_arguments():
    with pytest.raises(ValueError, match='absent_class_iou'):
        segmentation_metrics(np.zeros((4, 2)), 'nan')
    with pytest.raises(ValueError, match=r'\(4, K\)'):
        segmentation_metrics(np.zeros((3, 2)))
