"""Every RADIO config parses and builds; the tiny ones compute PHI-S stats and train."""
import copy
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
from tests.fixtures.config_names import full_configs, parse_config_name

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = full_configs('configs/radio')
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
    assert model.adaptors['sam'].summary_mlp is None
    # SAM distilled from a 1024 px student pass (RADIOv2.5): the 64x64 grids meet
    assert model.options['sam']['student_input_size'] == 1024
    assert model.adaptors['sam'].upsample_factor == 1
    # DINOv2 targets as the official DinoWrapper (SAK configs keep the defaults)
    assert cfg.model.teachers.dinov2.with_summary and cfg.model.teachers.dinov2.final_norm
    assert 'TimmViTTeacher.summary_dim' in model.summary_width_source['dinov2']
    assert model.adaptors['dinov2'].feature_channels == 1536
    width = {'vit-b': 768, 'vit-l': 1024, 'eradio': 768}
    assert model.student.embed_dim == width[parse_config_name(path)['backbone']]
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert 'MultiResolutionHook' in hooks
    assert cfg.model.phi_s.stats.endswith('.pth')
    _check_widths_against_real_teachers(cfg, model)


def _check_widths_against_real_teachers(cfg, model):
    """Every adaptor / PHI-S shape equals the width of the teacher it is trained on."""
    import open_clip
    clip = cfg.model.teachers.clip
    # the projected image embedding of DFN ViT-H/14-378 (1024), not its tower width (1280)
    clip_embed = open_clip.get_model_config(clip.model_name)['embed_dim']
    assert clip_embed == 1024
    for name, tcfg in cfg.model.teachers.items():
        teacher = _build_meta(dict(tcfg, pretrained=False))  # the real architecture
        assert list(cfg.model.teacher_dims[name]) == teacher.embed_dims, name
        opt = model.options[name]
        f_ch = teacher.embed_dims[opt['feature_level']]
        head = model.adaptors[name]
        assert head.feature_channels == f_ch, name
        summ = getattr(teacher, 'summary_dim', None) or f_ch
        if opt['summary']:
            assert head.summary_channels == summ, (name, model.summary_width_source[name])
            assert head.summary_mlp.final[2].weight.shape[0] == summ
        for kind, norm in model.phi_s[name].items():
            assert norm.mean.shape[0] == (summ if kind == 'summary' else f_ch), (name, kind)
    assert model.adaptors['clip'].summary_channels == clip_embed


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
    ckpt_path = str(tmp_path / 'work' / 'iter_3.pth')
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    keys = ckpt['state_dict']
    assert not any(k.startswith('teachers') for k in keys)
    assert 'phi_s.cnn.features.tx' in keys and any(k.startswith('adaptors.clip') for k in keys)
    # the CLIP adaptor learns the 32-d projected image embedding, not the 64-d tower width
    assert keys['adaptors.clip.summary_mlp.final.2.weight'].shape[0] == 32
    _reload_and_evaluate(cfg, model, ckpt_path, tmp_path)


def _class_folders(root, classes=('astronaut', 'coffee', 'rocket'), per_class=2, size=80):
    import cv2
    import skimage.data
    for c, cls in enumerate(classes):
        img = getattr(skimage.data, cls)()
        os.makedirs(osp.join(root, cls))
        for i in range(per_class):
            y, x = 30 * i + 10 * c, 25 * i
            cv2.imwrite(osp.join(root, cls, f'{i}.png'),
                        np.ascontiguousarray(img[y:y + size, x:x + size, ::-1]))


def _reload_and_evaluate(cfg, trained, ckpt_path, tmp_path):
    """The saved checkpoint reloads into a teacher-free build; zero-shot and kNN run."""
    from sakbox.apis import init_model
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
    try:
        import knn_classify
        import zero_shot_classify
    finally:
        sys.path.pop(0)
    cfg_file = str(tmp_path / 'trained_cfg.py')
    cfg.dump(cfg_file)
    model = init_model(cfg_file, ckpt_path)
    assert model.teachers is None
    sd, ref = model.state_dict(), trained.state_dict()
    assert sd.keys() == ref.keys()
    for k in ref:
        torch.testing.assert_close(sd[k], ref[k], rtol=0, atol=0, msg=k)
    x = torch.randn(2, 3, 64, 64)
    trained.eval()
    with torch.no_grad():
        a, b = model.extract_feat(x), trained.extract_feat(x)
    torch.testing.assert_close(a['adaptors']['clip']['summary'],
                               b['adaptors']['clip']['summary'])
    for split in ('train', 'val'):
        _class_folders(str(tmp_path / split))
    common = ['--img-size', '64', '--batch-size', '3', '--device', 'cpu']
    zs = zero_shot_classify.main([cfg_file, ckpt_path, '--data-root', str(tmp_path / 'val'),
                                  '--teacher', 'clip', '--templates', 'simple'] + common)
    assert zs['num_images'] == 6 and zs['num_classes'] == 3 and zs['top5'] == 100.0
    knn = knn_classify.main([cfg_file, ckpt_path, '--train-root', str(tmp_path / 'train'),
                             '--val-root', str(tmp_path / 'val'), '--k', '3'] + common)
    assert knn['num_train'] == 6 and knn['num_val'] == 6 and 0 <= knn['top1'] <= 100


def test_linear_probe_config_with_tiny_student_trains_only_the_heads():
    from sakbox.structures import MultiTaskDataSample
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'radio',
                                   'radio_vit-b_1xb8-linear-probe-20k_nyud-448x576.py'))
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
