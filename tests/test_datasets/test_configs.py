"""The dataset base configs build, and the synthetic ones run end to end."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from sakbox.registry import DATASETS, TRANSFORMS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO, 'configs', '_base_', 'datasets')


@pytest.mark.parametrize('name', ['nyud', 'pascal_context', 'synthetic_nyud',
                                  'synthetic_pascal', 'imagenet'])
def test_config_structure(name):
    cfg = Config.fromfile(osp.join(CFG_DIR, f'{name}.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dl = cfg[key]
        assert dl.sampler.type == 'DefaultSampler' and 'collate_fn' in dl
        assert DATASETS.get(dl.dataset.type) is not None
        for t in dl.dataset.pipeline:
            assert TRANSFORMS.get(t['type']) is not None, t['type']
    if name != 'imagenet':
        assert cfg.train_dataloader.dataset.tasks == cfg.tasks
        assert set(cfg.task_channels) == set(cfg.tasks)
        assert cfg.dataset_meta.num_classes == cfg.num_classes
        assert cfg.val_dataloader.dataset.test_mode


@pytest.mark.parametrize('name,fixture', [('synthetic_nyud', 'nyud_root'),
                                          ('synthetic_pascal', 'pascal_root')])
def test_synthetic_configs_load_batches(name, fixture, request):
    cfg = Config.fromfile(osp.join(CFG_DIR, f'{name}.py'))
    root = str(request.getfixturevalue(fixture))
    assert cfg.train_dataloader.dataset.data_root == f'data/{name}'
    for key in ('train_dataloader', 'val_dataloader'):
        dcfg = cfg[key].dataset
        dcfg.data_root = root
        dcfg.serialize_data = False  # skips a slow gc.collect()
        ds = DATASETS.build(dcfg)
        batch = pseudo_collate([ds[i] for i in range(2)])
        for inputs, sample in zip(batch['inputs'], batch['data_samples']):
            assert sample.gt_tasks == [t for t in
                                       ('semseg', 'depth', 'normals', 'edge', 'human_parts',
                                        'sal') if t in cfg.tasks]
            # The pipelines do not pad (the data preprocessor pads centred, after
            # normalisation): crops are at most crop_size, test images as they are.
            assert sample.pad_offset == (0, 0)
            assert tuple(inputs.shape[-2:]) == sample.img_shape == sample.pad_shape
            if key == 'train_dataloader':
                assert all(s <= c for s, c in zip(inputs.shape[-2:], cfg.crop_size))
            else:
                assert inputs.shape == (3, *sample.ori_shape)
            for task in cfg.tasks:
                assert sample.get_gt(task).data.shape[-2:] == inputs.shape[-2:]
        assert ds.metainfo['task_channels'] == cfg.task_channels
