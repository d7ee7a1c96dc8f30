"""Every RADIO config parses and builds; the tiny ones compute PHI-S stats and train."""
import copy
import glob
import os
import os.path as osp
import sys
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from sakbox.apis import prepare_model_cfg_for_test
from sakbox.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'radio', '*.py')))
FULL = [c for c in CONFIGS if 'tiny' not in c]
TINY = [c for c in CONFIGS if 'tiny' in c]


def _build_meta(model_cfg):
    import timm.layers.weight_init as wi
    with DefaultScope.overwrite_default_scope('sakbox'), \
            mock.patch.object(wi, '_trunc_normal_', lambda t, *a, **k: t), torch.device('meta'):
        return MODELS.build(model_cfg)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_teachers_get_their_own_input_normalisation(path):
    """AM-RADIO conditions each teacher's input its own way: input_norm='teacher'."""
    from sakbox.models.teachers import fill_input_norm
    teachers = Config.fromfile(path).model.get('teachers') or {}
    for name, teacher in teachers.items():
        assert fill_input_norm(teacher.to_dict())['input_norm'] == 'teacher', name


@pytest.mark.parametrize('path', FULL, ids=osp.basename)
def test_full_size_configs_build_for_test_on_meta(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'sakbox'
    model_cfg = prepare_model_cfg_for_test(copy.deepcopy(cfg.model))
    model = _build_meta(model_cfg)
    assert model.teachers is None
    if 'linear-probe' in path:
        assert model.student.frozen and model.student.num_cls_tokens == 2
        assert model.student.num_prefix_tokens == 8 and list(model.tasks) == cfg.tasks
        return
    assert model.teacher_names == ['clip', 'dinov2', 'sam']
    assert model.summary_slots == dict(clip=0, dinov2=1)
    assert model.adaptors['sam'].summary_mlp is None and model.adaptors['sam'].upsample_factor == 2
    assert model.adaptors['dinov2'].feature_channels == 1536
    width = dict(radio_vit_b=768, radio_vit_l=1024, eradio=768)
    key = osp.basename(path).split('_in1k')[0].replace('-', '_')
    assert model.student.embed_dim == width[key]
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert 'MultiResolutionHook' in hooks
    assert cfg.model.phi_s.stats.endswith('.pth')


def _images(root, n=12, size=96):
    import cv2
    import skimage.data
    os.makedirs(osp.join(root, 'images'))
    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.rocket()]
    rng = np.random.default_rng(0)
    for i in range(n):
        img = photos[i % 3]
        y, x = rng.integers(0, 200, 2)
        cv2.imwrite(osp.join(root, 'images', f'{i:03d}.png'),
                    np.ascontiguousarray(img[y:y + size, x:x + size, ::-1]))


@pytest.mark.parametrize('path', TINY, ids=osp.basename)
def test_tiny_configs_phi_s_and_train(path, tmp_path):
    from mmengine.runner import Runner
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
    try:
        import compute_phi_s_stats
    finally:
        sys.path.pop(0)
    _images(str(tmp_path))
    stats = str(tmp_path / 'phi_s.pth')
    loader = {'train_dataloader.dataset.data_root': str(tmp_path),
              'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
              'train_dataloader.batch_size': 4}
    res = compute_phi_s_stats.main([path, '--out', stats, '--num-batches', '2', '--device',
                                    'cpu', '--cfg-options'] +
                                   [f'{k}={v}' for k, v in loader.items()])
    assert set(res) == {'vit', 'clip', 'cnn'} and set(res['cnn']) == {'features', 'summary'}
    assert int(res['vit']['summary']['count']) == 8
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(loader)
    cfg.model.phi_s.stats = stats
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_cfg.max_iters = 3
    cfg.param_scheduler = None
    cfg.default_hooks.checkpoint.interval = 3
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model
    tx = model.phi_s['cnn']['features'].tx
    torch.testing.assert_close(tx, res['cnn']['features']['tx'])
    ckpt = torch.load(tmp_path / 'work' / 'iter_3.pth', map_location='cpu', weights_only=False)
    keys = ckpt['state_dict']
    assert not any(k.startswith('teachers') for k in keys)
    assert 'phi_s.cnn.features.tx' in keys and any(k.startswith('adaptors.clip') for k in keys)


def test_linear_probe_config_with_tiny_student_trains_only_the_heads():
    from sakbox.structures import MultiTaskDataSample
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'radio', 'radio_vit-b_linear-probe_nyud.py'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.student.update(arch=dict(embed_dim=32, depth=2, num_heads=2), max_img_size=64,
                             init_cfg=None)
    with DefaultScope.overwrite_default_scope('sakbox'):
        model = MODELS.build(model_cfg)
    model.train()
    h, w = 32, 48
    samples = []
    for _ in range(2):
        s = MultiTaskDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
        s.set_gt('semseg', torch.randint(0, 40, (1, h, w)))
        s.set_gt('depth', torch.rand(1, h, w) + 0.5)
        s.set_gt('normals', torch.nn.functional.normalize(torch.randn(3, h, w), dim=0))
        s.set_gt('edge', torch.randint(0, 2, (1, h, w)))
        samples.append(s)
    losses = model(torch.randn(2, 3, h, w), samples, mode='loss')
    assert set(losses) == {'loss_semseg', 'loss_depth', 'loss_normals', 'loss_edge'}
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.student.parameters())
    assert all(p.grad is not None for p in model.decode_heads.parameters() if p.requires_grad)
    assert not model.student.training
    model.eval()
    preds = model(torch.randn(1, 3, h, w), mode='predict')
    assert preds[0].pred_semseg.data.shape == (1, h, w)
