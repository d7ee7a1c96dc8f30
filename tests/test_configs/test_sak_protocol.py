"""The SAK stage-2 configs follow the official train / val / test protocol end to end.

Official (``datasets/custom_transforms.py``): train = RandomScaling(0.5-2) ->
RandomCrop(INPUT_SIZE, cat_max_ratio .75) -> flip -> photometric -> Normalize ->
PadImage(INPUT_SIZE) centred; val / test = Normalize -> PadImage centred; the model
runs at exactly INPUT_SIZE (NYUD 448x576, PASCAL 512x512) and predictions are cropped
back before the meters. In sakbox normalising and padding are the data preprocessor's.
"""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from sakbox.apis import init_model
from sakbox.datasets.synthetic import generate_synthetic_dataset
from sakbox.models.data_preprocessors import IMAGENET_MEAN, IMAGENET_STD
from sakbox.registry import DATASETS, METRICS, MODELS
from sakbox.utils import register_all_modules
from tests.fixtures.config_names import full_configs

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE2 = [c for c in full_configs('configs/sak')
          if 'stage1' not in c] + [osp.join(ROOT, 'configs', 'sak_nyud.py')]
#: The official INPUT_SIZE (datasets/utils/configs.py) of each real dataset.
INPUT_SIZE = dict(nyud=(448, 576), pascal=(512, 512))
#: Test-time steps that leave the image geometry as it is.
GEOMETRY_FREE = {'LoadImageFromFile', 'LoadMultiTaskAnnotations', 'AddIgnoreRegions',
                 'PackMultiTaskInputs'}
TINY_NYUD = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py')


def test_every_sak_stage2_config_is_checked():
    names = {osp.basename(c) for c in STAGE2}
    assert {'sak_vit-b_8xb1-40k_nyud-448x576.py', 'sak_vit-b_8xb1-40k_pascal-context-512x512.py',
            'sak_nyud.py', 'sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py',
            'sak_vit-tiny_1xb4-600it_synthetic-pascal-context-96x128.py'} <= names


@pytest.mark.parametrize('path', STAGE2, ids=osp.basename)
def test_config_uses_the_official_protocol(path):
    cfg = Config.fromfile(path)
    dataset = 'nyud' if 'nyud' in path else 'pascal'
    size = tuple(cfg.crop_size)
    if 'synthetic' not in path:
        assert size == INPUT_SIZE[dataset]
    # the model runs at exactly that size: pad centred to it, 0 after normalisation
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('sakbox'):
        pre = MODELS.build(cfg.model.data_preprocessor)
    assert pre.pad_position == 'center' and pre.size == size and pre.pad_value == 0
    assert pre.canvas_shape([size]) == size  # no size_divisor growth beyond the size
    assert pre.mean.flatten().tolist() == pytest.approx(IMAGENET_MEAN)
    assert pre.std.flatten().tolist() == pytest.approx(IMAGENET_STD)
    assert tuple(cfg.model.student.img_size) == size  # position embedding built for it
    # train: no pipeline padding (black before normalisation); the official order
    train = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert 'MultiTaskPad' not in train
    if 'tiny' in path:  # the CPU demo's documented lighter augmentation
        assert train == ['LoadImageFromFile', 'LoadMultiTaskAnnotations', 'MultiTaskRandomFlip',
                         'MultiTaskPhotoMetricDistortion', 'AddIgnoreRegions', 'PackMultiTaskInputs']
    else:
        assert train == ['LoadImageFromFile', 'LoadMultiTaskAnnotations', 'RandomRescale',
                         'MultiTaskRandomCrop', 'MultiTaskRandomFlip', 'MultiTaskPhotoMetricDistortion',
                         'AddIgnoreRegions', 'PackMultiTaskInputs']
        steps = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
        assert tuple(steps['RandomRescale']['ratio_range']) == (0.5, 2.0)
        assert tuple(steps['MultiTaskRandomCrop']['crop_size']) == size
        assert steps['MultiTaskRandomCrop']['cat_max_ratio'] == 0.75
    # val (during training) and test: the image as it is, then the same preprocessor
    for key in ('val_dataloader', 'test_dataloader'):
        steps = [t['type'] for t in cfg[key].dataset.pipeline]
        assert set(steps) <= GEOMETRY_FREE, (key, steps)
    assert cfg.val_cfg is not None and cfg.train_cfg.val_interval > 0


@pytest.fixture(scope='module')
def odd_nyud(tmp_path_factory):
    """Two synthetic NYUD val images of 85x115 (in 96x128 they sit at (5, 6), as NYUD's
    425x560 sit at (11, 8) in 448x576)."""
    root = str(tmp_path_factory.mktemp('odd') / 'nyud')
    generate_synthetic_dataset('nyud', root, num_train=1, num_val=2, size=(85, 115), seed=1)
    return root


def test_tiny_config_end_to_end_predicts_at_the_original_size(odd_nyud):
    torch.manual_seed(0)
    model = init_model(TINY_NYUD)  # random weights, no teachers
    cfg = model.cfg
    dcfg = cfg.test_dataloader.dataset
    dcfg.data_root, dcfg.serialize_data = odd_nyud, False
    with DefaultScope.overwrite_default_scope('sakbox'):
        ds = DATASETS.build(dcfg)
        metric = METRICS.build(cfg.test_evaluator)
    batch = pseudo_collate([ds[0], ds[1]])
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        logits = model(data['inputs'], mode='tensor')
        out = model.test_step(batch)
    assert data['inputs'].shape == (2, 3, 96, 128)
    for i, sample in enumerate(out):
        assert sample.ori_shape == sample.img_shape == (85, 115)
        assert sample.pad_offset == sample.batch_offset == (5, 6)
        assert sample.batch_input_shape == (96, 128)
        for task in cfg.model.tasks:
            assert sample.get_pred(task).shape == (85, 115), task
            assert sample.get_gt(task).shape == (85, 115), task
        # the prediction is the logits' image region, not their top-left corner
        region = logits['semseg'][i, :, 5:90, 6:121].argmax(0)
        assert torch.equal(sample.pred_semseg.data[0], region)
        assert not torch.equal(region, logits['semseg'][i, :, :85, :115].argmax(0))
        torch.testing.assert_close(sample.pred_depth.data[0],
                                   logits['depth'][i, 0, 5:90, 6:121].clamp(min=0))
    # the metrics take the predictions as they are (same size as the ground truth)
    metric.dataset_meta = ds.metainfo
    metric.process(batch, [s.to_dict() for s in out])
    results = metric.compute_metrics(metric.results)
    assert np.isfinite(results['semseg/mIoU']) and np.isfinite(results['depth/RMSE'])
