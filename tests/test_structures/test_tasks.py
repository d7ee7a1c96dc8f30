"""The task registry: built-in specs hold exactly the old tables' values, and a toy task
defined by one ``TaskSpec`` goes through pipeline, model utilities, metric and visualiser."""
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator

from sakbox.datasets.transforms import (
    AddIgnoreRegions,
    MultiTaskPad,
    MultiTaskRandomCrop,
    MultiTaskRandomFlip,
    MultiTaskResize,
    PackMultiTaskInputs,
)
from sakbox.datasets.transforms.task_maps import pad_values
from sakbox.evaluation import MultiTaskMetric
from sakbox.evaluation.functional import (
    PRIMARY_METRICS,
    delta_m,
    is_lower_better,
    lower_is_better_names,
    metric_key,
)
from sakbox.models.data_preprocessors import MultiTaskDataPreProcessor
from sakbox.models.utils import TASK_POSTPROCESS, gt_pad_value, postprocess_logits, stack_task_gt
from sakbox.structures import (
    IGNORE_INDEX,
    MultiTaskDataSample,
    TaskSpec,
    argmax_labels,
    clamped_depth,
    foreground_probability,
    get_task,
    register_task,
    sigmoid_probability,
    task_names,
    unit_normals,
    unregister_task,
    voc_palette,
)
from sakbox.visualization import (
    MultiTaskVisualizer,
    colorize_depth,
    colorize_labels,
    depth_range,
)

# The tables the registry replaced, as they were (the reference for the built-in specs).
OLD_TASKS = ('semseg', 'depth', 'normals', 'edge', 'human_parts', 'sal')
OLD_GT_LABEL_TASKS = ('semseg', 'human_parts', 'edge', 'sal')  # models/utils/task_gt.py
OLD_REGRESSION_TASKS = ('depth', 'normals')
OLD_GT_CHANNELS = dict(semseg=1, human_parts=1, edge=1, sal=1, depth=1, normals=3)
OLD_PAD_VALUES = dict(img=0, semseg=255, human_parts=255, edge=255, sal=255, depth=0, normals=0)
OLD_POSTPROCESS = dict(semseg=argmax_labels, human_parts=argmax_labels, depth=clamped_depth,
                       normals=unit_normals, edge=sigmoid_probability,
                       sal=foreground_probability)
OLD_PRIMARY_METRICS = {'semseg': 'mIoU', 'human_parts': 'mIoU', 'sal': 'maxF',
                       'normals': 'mErr', 'depth': 'RMSE', 'edge': 'odsF'}
OLD_LOWER_IS_BETTER = frozenset(
    {'RMSE', 'absRel', 'sqRel', 'log10', 'RMSElog', 'mErr', 'medErr', 'rmsErr', 'loss'})
OLD_DEFAULT_TASK_METRICS = {
    'semseg': dict(type='SegMetric', task='semseg'),
    'human_parts': dict(type='SegMetric', task='human_parts', skip_background_only=True),
    'depth': dict(type='DepthTaskMetric'),
    'normals': dict(type='NormalsMetric'),
    'sal': dict(type='SaliencyMetric'),
    'edge': dict(type='EdgeMetric'),
}
OLD_VIS_LABEL_TASKS = ('semseg', 'human_parts')  # visualization/multitask_visualizer.py
OLD_VIS_GRAY_TASKS = ('edge', 'sal')
OLD_PALETTE_KEYS = dict(semseg='palette', human_parts='human_parts_palette')


def _old_voc_palette(n):
    out = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out.append([r, g, b])
    return out


def test_builtin_specs_equal_the_old_tables():
    assert task_names() == OLD_TASKS
    for name in OLD_TASKS:
        spec = get_task(name)
        assert spec.name == name
        assert spec.is_label == (name in OLD_GT_LABEL_TASKS)
        assert spec.gt_kind == ('label' if name in OLD_GT_LABEL_TASKS else 'float')
        assert (spec.gt_kind == 'float') == (name in OLD_REGRESSION_TASKS)
        assert spec.channels == OLD_GT_CHANNELS[name]
        assert spec.pad_value == OLD_PAD_VALUES[name]
        assert spec.ignore_value == (255 if name in OLD_GT_LABEL_TASKS else None)
        assert spec.divide_by_zoom == (name == 'depth')
        assert spec.flip_negates == (name == 'normals')
        assert spec.invalid_rule == dict(normals='zero_vector', depth='nonpositive',
                                         human_parts='background_only').get(name, 'none')
        assert spec.postprocess is OLD_POSTPROCESS[name]
        assert spec.primary_metric == OLD_PRIMARY_METRICS[name]
        assert spec.primary_lower_is_better == (OLD_PRIMARY_METRICS[name] in
                                                OLD_LOWER_IS_BETTER)
        assert spec.metric_cfg() == OLD_DEFAULT_TASK_METRICS[name]
        color = ('labels' if name in OLD_VIS_LABEL_TASKS else 'gray'
                 if name in OLD_VIS_GRAY_TASKS else name)
        assert spec.color == color
        if name in OLD_PALETTE_KEYS:
            assert spec.palette_key == OLD_PALETTE_KEYS[name]
    assert IGNORE_INDEX == 255
    assert pad_values() == OLD_PAD_VALUES
    assert dict(PRIMARY_METRICS) == OLD_PRIMARY_METRICS
    assert list(PRIMARY_METRICS.items()) == list(OLD_PRIMARY_METRICS.items())  # same order
    assert lower_is_better_names() == OLD_LOWER_IS_BETTER
    assert sorted(TASK_POSTPROCESS) == sorted(OLD_TASKS)
    assert voc_palette(40) == _old_voc_palette(40)


def test_derived_tables_are_read_only_and_metric_cfg_is_a_copy():
    with pytest.raises(TypeError):
        PRIMARY_METRICS['semseg'] = 'aAcc'
    cfg = get_task('semseg').metric_cfg()
    cfg['num_classes'] = 3
    assert get_task('semseg').metric_cfg() == OLD_DEFAULT_TASK_METRICS['semseg']


def test_registry_errors():
    with pytest.raises(KeyError, match=r"unknown task 'optical_flow'.*semseg"):
        get_task('optical_flow')
    with pytest.raises(KeyError, match='already registered'):
        register_task(get_task('semseg'))
    with pytest.raises(TypeError, match='TaskSpec'):
        register_task(dict(name='x'))
    with pytest.raises(ValueError, match='gt_kind'):
        TaskSpec(name='x', gt_kind='int', postprocess=argmax_labels, primary_metric='mIoU')
    with pytest.raises(ValueError, match='color'):
        TaskSpec(name='x', gt_kind='label', postprocess=argmax_labels, primary_metric='mIoU',
                 color='rainbow')
    # Unknown tasks keep their errors everywhere.
    with pytest.raises(KeyError, match='no post-processing'):
        postprocess_logits('optical_flow', torch.zeros(1, 2, 2, 2))
    with pytest.raises(KeyError, match='unknown task'):
        metric_key('optical_flow')
    with pytest.raises(KeyError, match='no transform rules'):
        PackMultiTaskInputs()(dict(img=np.zeros((2, 2, 3), np.uint8),
                                   gt_optical_flow=np.zeros((2, 2)),
                                   task_fields=['optical_flow']))


# --- A toy task: one TaskSpec, nothing else. --------------------------------------------

TOY_LABEL = TaskSpec(name='toy', gt_kind='label', postprocess=argmax_labels,
                     primary_metric='mIoU', color='labels',
                     metric=dict(type='SegMetric', task='toy', num_classes=2))
TOY_FLOAT = TaskSpec(name='toy_height', gt_kind='float', postprocess=clamped_depth,
                     primary_metric='RMSE', lower_is_better={'RMSE'}, divide_by_zoom=True,
                     invalid_rule='nonpositive', color='depth',
                     metric=dict(type='DepthTaskMetric', task='toy_height'))
H, W = 12, 16


@pytest.fixture(params=[TOY_LABEL, TOY_FLOAT], ids=lambda s: s.name)
def toy(request):
    spec = register_task(request.param)
    yield spec
    unregister_task(spec.name)
    assert spec.name not in task_names()


def _toy_map(spec):
    y, x = np.mgrid[0:H, 0:W]
    if spec.is_label:
        m = (x >= W // 2).astype(np.uint8)
        m[0, 0] = IGNORE_INDEX
        return m
    return ((1.0 + y * W + x) / 50).astype(np.float32)


def _results(spec):
    y, x = np.mgrid[0:H, 0:W]
    return dict(img=np.stack([x, y, np.zeros_like(x)], -1).astype(np.uint8), img_shape=(H, W),
                ori_shape=(H, W), img_path='toy.png', img_id='toy', task_fields=[spec.name],
                **{f'gt_{spec.name}': _toy_map(spec)})


def test_toy_task_is_registered_last(toy):
    assert task_names() == OLD_TASKS + (toy.name, )
    assert get_task(toy.name) is toy
    assert PRIMARY_METRICS[toy.name] == toy.primary_metric
    assert list(PRIMARY_METRICS) == list(OLD_PRIMARY_METRICS) + [toy.name]
    s = MultiTaskDataSample()
    s.set_gt(toy.name, torch.zeros(1, 2, 2))
    s.set_gt('depth', torch.zeros(1, 2, 2))
    assert s.gt_tasks == ['depth', toy.name]


def test_toy_task_through_the_pipeline(toy):
    key = f'gt_{toy.name}'
    src = _toy_map(toy)
    # Resize x2 (nearest): float maps with divide_by_zoom are divided by the zoom.
    r = MultiTaskResize(scale_factor=2.0)(_results(toy))
    expected = np.repeat(np.repeat(src, 2, 0), 2, 1)
    if toy.divide_by_zoom:
        expected = expected / np.float32(2)
    np.testing.assert_allclose(r[key], expected)
    assert r[key].dtype == src.dtype
    # Horizontal flip mirrors the map (no vector negation for a 1-channel map).
    r = MultiTaskRandomFlip(prob=1.0)(_results(toy))
    np.testing.assert_array_equal(r[key], src[:, ::-1])
    # Pad with the spec's pad value, crop keeps alignment.
    r = MultiTaskPad(size=(H + 4, W + 2), position='center')(_results(toy))
    top, left = r['pad_offset']
    assert r[key].shape == (H + 4, W + 2) and (top, left) == (2, 1)
    assert (r[key][:top] == toy.pad_value).all()
    np.testing.assert_array_equal(r[key][top:top + H, left:left + W], src)
    np.random.seed(0)
    r = MultiTaskRandomCrop(crop_size=(6, 8))(_results(toy))
    assert r[key].shape == (6, 8) and r['img'].shape[:2] == (6, 8)
    y0, x0 = int(r['img'][0, 0, 1]), int(r['img'][0, 0, 0])
    np.testing.assert_array_equal(r[key], src[y0:y0 + 6, x0:x0 + 8])
    # Canonical invalid regions and packing follow the spec.
    res = _results(toy)
    if not toy.is_label:
        res[key][1, 1] = -3.0
    packed = Compose([AddIgnoreRegions(), PackMultiTaskInputs()])(res)
    gt = packed['data_samples'].get_gt(toy.name).data
    assert gt.shape == (1, H, W)
    assert gt.dtype == (torch.int64 if toy.is_label else torch.float32)
    if toy.is_label:
        np.testing.assert_array_equal(gt[0].numpy(), src)
    else:
        assert gt[0, 1, 1] == 0  # non-positive -> invalid 0
    assert packed['data_samples'].gt_tasks == [toy.name]


def test_toy_task_through_the_model_utilities(toy):
    items = []
    for i, (h, w) in enumerate([(H, W), (H - 4, W - 6)]):
        res = _results(toy)
        res = MultiTaskRandomCrop(crop_size=(h, w))(res) if i else res
        items.append(PackMultiTaskInputs()(res))
    batch = MultiTaskDataPreProcessor(size=(H + 2, W + 2), pad_position='center')(
        pseudo_collate(items))
    samples = batch['data_samples']
    size = batch['inputs'].shape[-2:]
    gt = stack_task_gt(samples, toy.name, size)
    assert gt.shape == (2, 1) + tuple(size)
    assert gt.dtype == (torch.int64 if toy.is_label else torch.float32)
    assert gt_pad_value(toy.name) == toy.pad_value
    for i, s in enumerate(samples):
        top, left = s.metainfo['batch_offset']
        h, w = s.get_gt(toy.name).data.shape[-2:]
        torch.testing.assert_close(gt[i, :, top:top + h, left:left + w],
                                   s.get_gt(toy.name).data)
        assert (gt[i, :, :top] == toy.pad_value).all()
    logits = torch.randn(2, 2, 4, 4)
    out = postprocess_logits(toy.name, logits)
    torch.testing.assert_close(out, toy.postprocess(logits))
    assert TASK_POSTPROCESS[toy.name] is toy.postprocess


def test_toy_task_default_metric_and_delta_m(toy):
    gt = _toy_map(toy)
    pred = gt.copy()
    if toy.is_label:
        pred[:, :2] = 1 - pred[:, :2]
        pred[0, 0] = 0
    else:
        pred = pred * 1.1
    sample = MultiTaskDataSample(metainfo=dict(img_path='toy.png'))
    sample.set_gt(toy.name, torch.from_numpy(gt.astype(gt.dtype))[None].to(
        torch.int64 if toy.is_label else torch.float32))
    sample.set_pred(toy.name, torch.from_numpy(pred)[None].to(
        torch.int64 if toy.is_label else torch.float32))
    base = 50.0 if toy.is_label else 1.0
    metric = MultiTaskMetric(tasks=[toy.name], single_task_baselines={toy.name: base})
    assert type(metric.metrics[toy.name]).__name__ == toy.metric['type']
    evaluator = Evaluator([metric])
    evaluator.process([sample])
    out = evaluator.evaluate(1)
    key = metric_key(toy.name)
    assert key == f'{toy.name}/{toy.primary_metric}' == toy.primary_key
    assert is_lower_better(key) == toy.primary_lower_is_better
    sign = -1 if toy.primary_lower_is_better else 1
    assert out['multitask/delta_m'] == pytest.approx(100 * sign * (out[key] - base) / base)
    assert delta_m(out, {toy.name: base}) == pytest.approx(out['multitask/delta_m'])


def test_toy_task_in_the_visualiser(toy):
    vis = MultiTaskVisualizer(name=f'test_tasks_vis_{toy.name}')
    vis.set_dataset_meta({toy.palette_key: [[10, 20, 30], [200, 100, 50]]})
    gt = torch.from_numpy(_toy_map(toy))[None]
    s = MultiTaskDataSample(metainfo=dict(img_id='toy'))
    s.set_gt(toy.name, gt.long() if toy.is_label else gt.float())
    tiles = vis.task_images(s)
    if toy.is_label:
        expected = colorize_labels(gt.numpy(), [[10, 20, 30], [200, 100, 50]])
        assert tiles[f'gt_{toy.name}'][0, 1].tolist() == [10, 20, 30]
    else:
        assert depth_range(gt.numpy()) == (float(gt.min()), float(gt.max()))
        expected = colorize_depth(gt.numpy(), *depth_range(gt.numpy()), cmap=vis.depth_cmap)
    np.testing.assert_array_equal(tiles[f'gt_{toy.name}'], expected)
    panel = vis.build_panel(np.zeros((H, W, 3), np.uint8), s)
    assert panel.shape[1] == 2 * W + vis.gap
