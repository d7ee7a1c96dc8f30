import numpy as np
import pytest
from mmengine.evaluator import Evaluator

from sakbox.evaluation import DepthTaskMetric, NormalsMetric, SaliencyMetric, SegMetric
from sakbox.evaluation.metrics import get_field
from sakbox.registry import METRICS

from ..helpers import make_sample


@pytest.mark.parametrize('as_dict', [False, True])
def test_seg_metric_hand_computed_from_samples_and_dicts(as_dict):
    metric = SegMetric(task='semseg', num_classes=3)
    s1 = make_sample({'semseg': np.array([[0, 1], [1, 2]])}, {'semseg': np.array([[0, 1], [2, 255]])},
                     as_dict=as_dict)
    s2 = make_sample({'semseg': np.array([[2, 2]])}, {'semseg': np.array([[2, 0]])}, as_dict=as_dict)
    metric.process({}, [s1, s2])
    out = metric.evaluate(2)
    # class 0: I=1 U=2; class 1: I=1 U=2; class 2: I=1 U=3
    assert out['semseg/mIoU'] == pytest.approx(100 * (1 / 2 + 1 / 2 + 1 / 3) / 3)
    assert out['semseg/aAcc'] == pytest.approx(100 * 3 / 5)
    assert metric.results == []


def test_human_parts_skip_images_without_persons_and_meta_classes():
    metric = METRICS.build(dict(type='SegMetric', task='human_parts', skip_background_only=True,
                                classwise=True))
    metric.dataset_meta = dict(task_channels=dict(human_parts=3),
                               human_parts_classes=('background', 'head', 'torso'))
    person = make_sample({'human_parts': np.array([[0, 1, 2]])},
                         {'human_parts': np.array([[0, 1, 1]])})
    empty = make_sample({'human_parts': np.array([[1, 1, 0]])},
                        {'human_parts': np.array([[0, 0, 255]])})
    metric.process({}, [person, empty])
    out = metric.evaluate(2)
    assert out['human_parts/mIoU'] == pytest.approx(100 * (1 + 1 / 2 + 0) / 3)
    assert out['human_parts/IoU.head'] == pytest.approx(50.0)


def test_depth_normals_saliency_metrics_through_the_evaluator():
    evaluator = Evaluator([DepthTaskMetric(), NormalsMetric(), SaliencyMetric()])
    gt_n = np.zeros((3, 1, 2), np.float32)
    gt_n[2] = 1
    pred_n = np.zeros((3, 1, 2), np.float32)
    pred_n[2, 0, 0] = 1
    pred_n[0, 0, 1] = 1
    sample = make_sample(
        {'depth': np.array([[1.0, 3.0]], np.float32), 'normals': pred_n,
         'sal': np.array([[0.9, 0.2]], np.float32)},
        {'depth': np.array([[1.0, 2.0]], np.float32), 'normals': gt_n,
         'sal': np.array([[1, 0]])})
    evaluator.process([sample])
    out = evaluator.evaluate(1)
    assert out['depth/RMSE'] == pytest.approx(np.sqrt(0.5))
    assert out['normals/mErr'] == pytest.approx(45.0)
    assert out['sal/maxF'] == pytest.approx(100.0, abs=1e-5)
    assert set(out) >= {'depth/absRel', 'depth/delta1', 'normals/medErr', 'normals/11.25',
                        'sal/mIoU', 'sal/mIoU@0.5'}


def test_errors_name_the_sample_and_shapes():
    metric = DepthTaskMetric()
    bad = make_sample({'depth': np.zeros((2, 3), np.float32)}, {'depth': np.zeros((2, 4), np.float32)},
                      img_path='data/nyud/0001.png')
    with pytest.raises(ValueError, match=r'0001\.png.*|.*\(2, 3\).*\(2, 4\)') as err:
        metric.process({}, [bad])
    assert '0001.png' in str(err.value) and '(2, 3)' in str(err.value) and '(2, 4)' in str(err.value)
    missing = make_sample({}, {'depth': np.zeros((2, 2), np.float32)}, img_path='x/42.png')
    with pytest.raises(KeyError, match="42.png.*pred_depth"):
        metric.process({}, [missing])
    with pytest.raises(ValueError, match=r'\(3, H, W\)'):
        NormalsMetric().process({}, [make_sample({'normals': np.zeros((2, 2), np.float32)},
                                                 {'normals': np.zeros((2, 2), np.float32)})])


def test_seg_metric_needs_num_classes():
    metric = SegMetric(task='semseg')
    with pytest.raises(ValueError, match='num_classes'):
        metric.process({}, [make_sample({'semseg': np.zeros((1, 2), np.int64)},
                                        {'semseg': np.zeros((1, 2), np.int64)})])


def test_get_field_accepts_plain_arrays():
    np.testing.assert_array_equal(get_field({'gt_x': np.ones(2)}, 'gt_x'), np.ones(2))
