"""sakbox.evaluation.baselines.trivial (and its CLI) on a hand-made NYUD-layout dataset."""
import inspect
import json
import math
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from sakbox.evaluation.baselines import (
    report_trivial_baselines,
    resolve_absent_class_iou,
    trivial_baselines,
)
from sakbox.evaluation.baselines.trivial import _with_pipeline
from sakbox.evaluation.metric_files import find_metric, load_metrics
from tests.utils import run_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
H, W = 4, 6


def _write(root, img_id, seg_png, depth):
    cv2.imwrite(str(root / 'images' / f'{img_id}.png'), np.full((H, W, 3), 100, np.uint8))
    cv2.imwrite(str(root / 'segmentation' / f'{img_id}.png'), seg_png.astype(np.uint8))
    np.save(root / 'depth' / f'{img_id}.npy', depth.astype(np.float32))


@pytest.fixture(scope='module')
def dataset_cfg(tmp_path_factory):
    """Train: class 2 is the majority (30 px vs 12 + 6), mean valid depth 8/3 m.

    Val: 12 px class 2, 6 px class 5, 6 px void; depth 1 m on 12 px, 3 m on 12 px.
    """
    root = tmp_path_factory.mktemp('nyud')
    for d in ('images', 'segmentation', 'depth', 'gt_sets'):
        (root / d).mkdir()
    # Segmentation PNGs store label + 1 (0 = void).
    seg = np.full((H, W), 3)
    seg[0] = 1
    _write(root, 't0', seg, np.full((H, W), 2.0))
    seg, depth = np.full((H, W), 3), np.zeros((H, W))
    seg[:, :W // 2], depth[:, :W // 2] = 5, 4.0
    _write(root, 't1', seg, depth)
    seg, depth = np.full((H, W), 3), np.full((H, W), 1.0)
    seg[2], seg[3], depth[2:] = 6, 0, 3.0
    _write(root, 'v0', seg, depth)
    (root / 'gt_sets' / 'train.txt').write_text('t0\nt1\n')
    (root / 'gt_sets' / 'val.txt').write_text('v0\n')
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadMultiTaskAnnotations'),
                dict(type='AddIgnoreRegions'), dict(type='PackMultiTaskInputs')]
    train_pipeline = [dict(type='RandomRescale', ratio_range=(0.5, 2.0))] + pipeline

    def loader(split, pipe):
        return dict(batch_size=1, dataset=dict(
            type='NYUDv2Dataset', data_root=str(root), ann_file=f'gt_sets/{split}.txt',
            tasks=['semseg', 'depth'], pipeline=pipe))

    cfg_path = root / 'cfg.py'
    cfg_path.write_text(
        "default_scope = 'sakbox'\n"
        f'train_dataloader = {loader("train", train_pipeline)!r}\n'
        f'val_dataloader = {loader("val", pipeline)!r}\n'
        'test_dataloader = val_dataloader\n')
    return root, str(cfg_path)


MEAN_DEPTH = 8 / 3
RMSE = math.sqrt((12 * (1 - MEAN_DEPTH) ** 2 + 12 * (3 - MEAN_DEPTH) ** 2) / 24)


@pytest.mark.parametrize('absent,miou', [('ignore', 100 * (12 / 18) / 2),
                                         ('zero', 100 * (12 / 18) / 40)])
def test_baselines_match_hand_computation(dataset_cfg, absent, miou):
    root, cfg = dataset_cfg
    out = trivial_baselines(Config.fromfile(cfg), 'val', absent)
    assert out['baselines']['semseg/mIoU'] == pytest.approx(miou)
    assert out['baselines']['depth/RMSE'] == pytest.approx(RMSE)
    assert (out['majority_class'], out['majority_class_name']) == (2, 'cabinet')
    assert out['mean_depth'] == pytest.approx(MEAN_DEPTH)
    text, _ = report_trivial_baselines(out['baselines'], {})
    assert 'n/a (no model metric)' in text


def test_report_with_model_metrics(dataset_cfg, tmp_path):
    root, cfg = dataset_cfg
    metrics = tmp_path / 'metrics.json'
    miou = 100 / 3
    metrics.write_text(json.dumps(dict(metrics={'semseg/mIoU': 2.1 * miou,
                                                'depth/RMSE': 0.75 * RMSE})))
    out = trivial_baselines(Config.fromfile(cfg), 'val', 'ignore')
    text, checks = report_trivial_baselines(out['baselines'], load_metrics(str(metrics)))
    assert checks == {'semseg mIoU >= 2x majority class': True,
                      'depth RMSE <= 0.7x mean depth': False}
    assert 'semseg mIoU >= 2x majority class: yes' in text
    assert 'depth RMSE <= 0.7x mean depth: NO' in text
    row = next(line for line in text.splitlines() if line.startswith('semseg/mIoU'))
    assert row.split()[1:3] == [f'{2.1 * miou:.4f}', f'{miou:.4f}'] and row.split()[-1] == '2.10'


def test_cli_exits_zero_when_a_check_fails(dataset_cfg, tmp_path):
    """The one smoke test of tools/analysis_tools/trivial_baselines.py itself."""
    root, cfg = dataset_cfg
    metrics = tmp_path / 'metrics.json'
    metrics.write_text(json.dumps(dict(metrics={'semseg/mIoU': 1.0, 'depth/RMSE': 9.0})))
    proc = run_tool(['tools/analysis_tools/trivial_baselines.py', cfg, '--metrics',
                     str(metrics), '--split', 'test', '--absent-class-iou', 'ignore'])
    assert proc.returncode == 0
    assert ': NO' in proc.stdout
    assert 'majority class: 2 (cabinet)' in proc.stdout
    assert f'mean training depth: {MEAN_DEPTH:.4f} m' in proc.stdout


def test_helpers():
    assert find_metric({'multitask/semseg/mIoU': 3.0}, 'semseg/mIoU') == 3.0
    assert find_metric({'depth/RMSE': 0.5}, 'semseg/mIoU') is None
    cfg = Config(dict(val_evaluator=dict(type='Anything', absent_class_iou='zero')))
    assert resolve_absent_class_iou(cfg, 'val', 'auto') == 'zero'
    nested = Config(dict(test_evaluator=dict(
        type='MultiTaskMetric', task_metric_cfgs=dict(semseg=dict(absent_class_iou='ignore')))))
    assert resolve_absent_class_iou(nested, 'test', 'auto') == 'ignore'
    # No setting: the default of the project's SegMetric (the official 'zero').
    from sakbox.evaluation.metrics.seg_metric import SegMetric
    default = inspect.signature(SegMetric).parameters['absent_class_iou'].default
    assert resolve_absent_class_iou(Config(dict()), 'val', 'auto') == default
    assert resolve_absent_class_iou(cfg, 'val', 'ignore') == 'ignore'
    wrapped = dict(type='RepeatDataset', times=3, dataset=dict(type='D', pipeline=['x']))
    assert _with_pipeline(wrapped, ['y']) == dict(type='D', pipeline=['y'], test_mode=True)
