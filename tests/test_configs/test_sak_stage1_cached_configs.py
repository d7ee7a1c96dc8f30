"""The cached stage-1 configs: consistent with their online twins, and train from a cache."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from sakbox.datasets.feature_cache import extract_teacher_features, extraction_pipeline
from sakbox.datasets.synthetic import generate_synthetic_dataset
from sakbox.registry import MODELS, TRANSFORMS
from sakbox.utils.cli import load_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAIRS = [('sak_vit-tiny_stage1_1xb16-30e_synthetic-nyud-96x128.py',
          'sak_vit-tiny_stage1_1xb16-cached-30e_synthetic-nyud-96x128.py'),
         ('sak_vit-b_stage1_8xb16-30e_in1k-384x384.py',
          'sak_vit-b_stage1_8xb16-cached-30e_in1k-384x384.py')]


def _cfg(name):
    return Config.fromfile(osp.join(ROOT, 'configs', 'sak', name))


@pytest.mark.parametrize('online, cached', PAIRS, ids=[p[1] for p in PAIRS])
def test_cached_config_matches_its_online_twin(online, cached):
    on, ca = _cfg(online), _cfg(cached)
    assert ca.model.build_teachers is False
    assert ca.model.teachers == on.model.teachers
    assert {k: v for k, v in ca.model.items() if k != 'build_teachers'} == on.model
    ds = ca.train_dataloader.dataset
    assert ds.type == 'TeacherFeatureCacheDataset' and ds.teachers == on.model.teachers
    assert ds.dataset.data_root == on.train_dataloader.dataset.data_root
    # Extracting from either config gives the same views.
    init_default_scope('sakbox')

    def view(pipeline):
        crop, = [t for t in pipeline if t['type'] == 'SeededViewCrop']
        return TRANSFORMS.build(crop).view_config()
    assert view(extraction_pipeline(on.train_dataloader.dataset.pipeline, 0)) == \
        view(extraction_pipeline(ds.dataset.pipeline, 0)) == view(ds.dataset.pipeline)


def test_tiny_cached_config_trains_from_an_extracted_cache(tmp_path):
    data = tmp_path / 'scenes'
    generate_synthetic_dataset('nyud', str(data), num_train=3, num_val=1, size=(48, 64),
                               seed=0)
    cache = tmp_path / 'cache'
    cfg_path = osp.join(ROOT, 'configs', 'sak',
                        'sak_vit-tiny_stage1_1xb16-cached-30e_synthetic-nyud-96x128.py')
    init_default_scope('sakbox')
    stats = extract_teacher_features(
        load_config(cfg_path, {'train_dataloader.dataset.dataset.data_root': str(data)}),
        out=str(cache), views=1, num_workers=0)
    assert stats['images'] == 4

    cfg = Config.fromfile(cfg_path)
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.update(batch_size=2, num_workers=0, persistent_workers=False)
    loader_cfg.dataset.update(cache_dir=str(cache))
    loader_cfg.dataset.dataset.data_root = str(data)
    init_default_scope('sakbox')
    batch = next(iter(Runner.build_dataloader(loader_cfg, seed=0)))
    assert set(batch['data_samples'][0].teacher_feats) == {'dinov2', 'clip', 'sam'}
    model = MODELS.build(cfg.model)
    assert model.teachers is None
    from mmengine.optim import build_optim_wrapper
    log = model.train_step(batch, build_optim_wrapper(model, cfg.optim_wrapper))
    assert sum(k.startswith('loss_distill_') for k in log) == 12
    assert all(torch.isfinite(v) for v in log.values())


def test_tiny_online_stage1_config_trains_a_step():
    cfg = _cfg('sak_vit-tiny_stage1_1xb16-30e_synthetic-nyud-96x128.py')
    init_default_scope('sakbox')
    model = MODELS.build(cfg.model)
    from mmengine.optim import build_optim_wrapper

    from sakbox.structures import MultiTaskDataSample
    data = dict(inputs=[torch.randint(0, 255, (3, 96, 128), dtype=torch.uint8)
                        for _ in range(2)],
                data_samples=[MultiTaskDataSample(metainfo=dict(img_shape=(96, 128)))
                              for _ in range(2)])
    log = model.train_step(data, build_optim_wrapper(model, cfg.optim_wrapper))
    assert sum(k.startswith('loss_distill_') for k in log) == 12  # 3 teachers x 4 levels
    assert all(torch.isfinite(v) for v in log.values())
