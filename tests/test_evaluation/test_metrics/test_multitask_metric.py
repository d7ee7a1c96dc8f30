import numpy as np
import pytest
from mmengine.evaluator import Evaluator

from sakbox.evaluation import MultiTaskMetric
from sakbox.registry import METRICS

from ..helpers import make_sample


def _sample(seed):
    rng = np.random.default_rng(seed)
    gt_seg = rng.integers(0, 3, (6, 8))
    gt_depth = rng.uniform(0.5, 5, (6, 8)).astype(np.float32)
    gt_n = rng.normal(size=(3, 6, 8)).astype(np.float32)
    gt_edge = np.zeros((6, 8), np.int64)
    gt_edge[3] = 1
    return make_sample(
        {'semseg': np.where(rng.random((6, 8)) < 0.8, gt_seg, 0),
         'depth': gt_depth * 1.1, 'normals': gt_n + 0.2, 'edge': gt_edge.astype(np.float32)},
        {'semseg': gt_seg, 'depth': gt_depth, 'normals': gt_n, 'edge': gt_edge},
        img_path=f'{seed}.png')


def _cfg(**kwargs):
    cfg = dict(type='MultiTaskMetric', tasks=['semseg', 'depth', 'normals', 'edge'],
               dataset='nyud', task_metric_cfgs=dict(semseg=dict(num_classes=3),
                                                     edge=dict(nproc=0, max_dist=0.2)),
               single_task_baselines={'semseg': 50.0, 'depth/RMSE': 0.2, 'normals': 10.0,
                                      'edge': 90.0})
    cfg.update(kwargs)
    return cfg


def test_keys_and_delta_m_match_the_task_metrics():
    evaluator = Evaluator([METRICS.build(_cfg())])
    samples = [_sample(s) for s in range(3)]
    evaluator.process(samples)
    out = evaluator.evaluate(3)
    for key in ('semseg/mIoU', 'depth/RMSE', 'normals/mErr', 'edge/odsF', 'multitask/delta_m'):
        assert key in out, key
    expected = 100 / 4 * ((out['semseg/mIoU'] - 50) / 50 - (out['depth/RMSE'] - 0.2) / 0.2
                          - (out['normals/mErr'] - 10) / 10 + (out['edge/odsF'] - 90) / 90)
    assert out['multitask/delta_m'] == pytest.approx(expected)
    # same numbers as the stand-alone task metrics
    single = Evaluator([METRICS.build(dict(type='DepthTaskMetric')),
                        METRICS.build(dict(type='SegMetric', num_classes=3))])
    single.process(samples)
    alone = single.evaluate(3)
    assert alone['depth/RMSE'] == out['depth/RMSE']
    assert alone['semseg/mIoU'] == out['semseg/mIoU']


def test_baselines_are_required_and_checked():
    with pytest.raises(ValueError, match='compute_single_task_baselines'):
        METRICS.build(dict(type='MultiTaskMetric', tasks=['depth']))
    metric = METRICS.build(dict(type='MultiTaskMetric', tasks=['depth'],
                                single_task_baselines=None))
    metric.process({}, [_sample(0)])
    assert 'multitask/delta_m' not in metric.evaluate(1)
    with pytest.raises(KeyError, match=r"missing \['depth'\]"):
        METRICS.build(_cfg(single_task_baselines=dict(semseg=1.0, normals=1.0, edge=1.0)))
    with pytest.raises(KeyError, match='not evaluated'):
        METRICS.build(_cfg(single_task_baselines=dict(semseg=1.0, depth=1.0, normals=1.0,
                                                      edge=1.0, sal=1.0)))


def test_dataset_defaults_and_meta_propagation():
    metric = MultiTaskMetric(tasks=['semseg', 'human_parts', 'edge'], dataset='pascal',
                             single_task_baselines=None)
    assert metric.metrics['semseg'].num_classes == 21
    assert metric.metrics['human_parts'].num_classes == 7
    assert metric.metrics['human_parts'].skip_background_only
    assert metric.metrics['edge'].max_dist == 0.0075
    metric.dataset_meta = dict(classes=('a', 'b'))
    assert metric.metrics['semseg'].dataset_meta == dict(classes=('a', 'b'))
    with pytest.raises(ValueError, match='dataset'):
        MultiTaskMetric(tasks=['semseg'], dataset='cityscapes', single_task_baselines=None)
    with pytest.raises(KeyError, match='not in tasks'):
        MultiTaskMetric(tasks=['depth'], task_metric_cfgs=dict(edge={}),
                        single_task_baselines=None)
