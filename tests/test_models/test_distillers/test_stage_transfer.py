"""Stage 1 -> stage 2 with the real tiny SAKViT: pos-embed resampling on every load path."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint, save_checkpoint
from timm.layers import resample_abs_pos_embed

from sakbox.registry import MODELS
from sakbox.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TINY = osp.join(ROOT, 'configs', '_base_', 'models', 'sak_vit-tiny.py')


def build(cfg):
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('sakbox'):
        return MODELS.build(cfg)


@pytest.fixture(scope='module')
def stage1_ckpt(tmp_path_factory):
    base = Config.fromfile(TINY)
    s1_cfg = dict(type='MultiTeacherDistiller', data_preprocessor=base.data_preprocessor,
                  student=dict(base.student, img_size=(64, 64)), teachers=base.teachers,
                  teacher_init_seed=1)
    s1 = build(s1_cfg)
    x = torch.randn(2, 3, 64, 64)
    losses = s1(x, mode='loss')
    assert len(losses) == 12
    sum(losses.values()).backward()
    assert s1.student.vit.pos_embed.shape[1] == 1 + 8 * 8  # 8x8 patches
    path = str(tmp_path_factory.mktemp('s1') / 'stage1.pth')
    save_checkpoint(dict(state_dict=s1.state_dict(), meta=dict()), path)
    return s1, path


def stage2_cfg(**kw):
    base = Config.fromfile(TINY)
    cfg = copy.deepcopy(base.model)
    cfg.student.img_size = (64, 96)
    cfg.update(tasks=['semseg', 'depth'], task_channels=dict(semseg=5, depth=1),
               task_losses=dict(semseg=dict(type='MultiTaskCrossEntropyLoss'),
                                depth=dict(type='DepthL1Loss')), build_teachers=False)
    cfg.update(kw)
    return cfg


@pytest.mark.parametrize('how', ['load_checkpoint', 'init_cfg', 'student.checkpoint'])
def test_stage2_loads_stage1_with_resampled_pos_embed(stage1_ckpt, how):
    s1, path = stage1_ckpt
    old = s1.student.vit.pos_embed.detach()
    expect = resample_abs_pos_embed(old, [8, 12], [8, 8], num_prefix_tokens=1,
                                    interpolation='bicubic', antialias=False)  # as official
    if how == 'load_checkpoint':  # what `load_from` does
        s2 = build(stage2_cfg())
        load_checkpoint(s2, path, strict=False)
    elif how == 'init_cfg':
        s2 = build(stage2_cfg(init_cfg=dict(type='Pretrained', checkpoint=path)))
        s2.init_weights()
    else:
        cfg = stage2_cfg()
        cfg.student.checkpoint = path
        s2 = build(cfg)
    assert s2.student.vit.pos_embed.shape == expect.shape
    assert torch.allclose(s2.student.vit.pos_embed, expect, atol=1e-6)
    # every stem weight but the position embedding comes over unchanged
    s1_sd, s2_sd = s1.student.state_dict(), s2.student.state_dict()
    for key, value in s1_sd.items():
        if key != 'vit.pos_embed':
            assert torch.equal(s2_sd[key], value), key
    out = s2(torch.randn(1, 3, 64, 96), mode='tensor')
    assert out['semseg'].shape == (1, 5, 64, 96)
