"""MultiTaskDistiller with mmseg decode heads, necks and auxiliary heads on a tiny SAK.

The student is the real SAKViT (4 blocks, 32 dims, 8-pixel patches); the teacher is a
stand-in, so every step stays well under a second.
"""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope

from sakbox.models.utils import resize_logits, stack_task_gt
from sakbox.registry import MODELS
from sakbox.utils import install_mmcv_ops_shim

from .stubs import distiller_cfg, make_batch

TASKS = ('semseg', 'depth', 'normals', 'edge')
NECK = dict(type='mmseg.MultiLevelNeck', out_channels=32, scales=[2, 1, 0.5, 0.25])
HEADS = dict(
    uperhead=dict(type='mmseg.UPerHead', in_index=[0, 1, 2, 3], pool_scales=(1, 2, 3),
                  channels=16),
    fpnhead=dict(type='mmseg.FPNHead', in_index=[0, 1, 2, 3], feature_strides=[4, 8, 16, 32],
                 channels=16))
FCN_AUX = dict(type='mmseg.FCNHead', in_index=2, channels=16, num_convs=1, concat_input=False)


@pytest.fixture(scope='module', autouse=True)
def mmseg_models():
    install_mmcv_ops_shim()  # a no-op where full mmcv is installed
    with DefaultScope.overwrite_default_scope('sakbox'):
        yield


def sak_cfg(tasks=TASKS, **kw):
    """A tiny SAK (real SAKViT student, one stand-in teacher) with 4 levels of 32 channels."""
    cfg = distiller_cfg(tasks, **kw)
    cfg['student'] = dict(type='SAKViT', arch='vit_base_patch16_384', pretrained=False,
                          img_size=(32, 48), down_ratio=4, aligner='auto',
                          model_kwargs=dict(depth=4, embed_dim=32, num_heads=2, patch_size=8),
                          router=dict(type='MoRRouter', noisy_gating=True))
    cfg['teachers'] = dict(t1=dict(type='StubTeacher', dim=16, patch=8, num_levels=4))
    return cfg


def build(**kw):
    torch.manual_seed(0)
    return MODELS.build(sak_cfg(**kw))


@pytest.mark.parametrize('head', sorted(HEADS))
def test_mmseg_head_with_neck_trains_and_predicts(head):
    model = build(neck=NECK, decode_heads=HEADS[head])
    assert type(model.neck).__name__ == 'MultiLevelNeck' and model.necks is None
    for task, h in model.decode_heads.items():
        assert h.in_channels == [32] * 4 and h.out_channels == model.task_channels[task]
    inputs, samples = make_batch(tasks=TASKS)
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    model.train()
    totals = []
    for _ in range(3):
        log = model.train_step(dict(inputs=inputs, data_samples=samples), optim)
        assert {f'loss_{t}' for t in TASKS} <= set(log)
        assert all(torch.isfinite(v) for v in log.values())
        totals.append(log['loss'].item())
    assert totals[-1] < totals[0], totals
    # gradients reach the student through the head and the neck
    optim.zero_grad()
    total, _ = model.parse_losses(model(inputs, samples, mode='loss'))
    total.backward()
    for part in (model.student.vit.blocks[0], model.student.routers, model.neck,
                 model.decode_heads['semseg'], model.decode_heads['edge']):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    model.eval()
    inputs, samples = make_batch(tasks=TASKS, img_shape=(28, 40), ori_shape=(50, 70))
    out = model(inputs, samples, mode='predict')
    for s in out:
        assert s.pred_semseg.shape == (50, 70) and s.pred_semseg.data.dtype == torch.int64
        assert s.pred_normals.data.shape == (3, 50, 70)
        assert s.pred_depth.data.shape == s.pred_edge.data.shape == (1, 50, 70)


def test_auxiliary_head_loss_is_the_weighted_task_loss():
    model = build(neck=NECK, decode_heads=HEADS['uperhead'],
                  auxiliary_heads=dict(semseg=FCN_AUX, depth=FCN_AUX),
                  auxiliary_loss_weight=dict(semseg=0.25))
    assert model.auxiliary_loss_weights == dict(semseg=0.25, depth=0.4)  # mmseg's default
    assert model.auxiliary_heads['semseg'].in_channels == 32  # the neck's third level
    model.eval()  # no dropout, no router noise: the reference below sees the same numbers
    inputs, samples = make_batch(tasks=TASKS)
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == ({f'loss_{t}' for t in TASKS} | {'loss_semseg_aux', 'loss_depth_aux'}
                           | {f'loss_distill_t1_l{i}' for i in range(4)})
    levels = model.task_levels(model.student(inputs)['task_feats'])
    for task, weight in (('semseg', 0.25), ('depth', 0.4)):
        aux = resize_logits(model.auxiliary_heads[task](levels[task]), (32, 48))
        gt = stack_task_gt(samples, task, (32, 48))
        ref = weight * model.task_losses[task](aux, gt)
        torch.testing.assert_close(losses[f'loss_{task}_aux'], ref)
        assert losses[f'loss_{task}_aux'] != weight * losses[f'loss_{task}']  # another head
    # prediction and raw outputs use the decode heads only
    assert set(model(inputs, mode='tensor')) == set(TASKS)
    pred = model(inputs, samples, mode='predict')[0]
    assert not [k for k in pred.keys() if 'aux' in k]


def test_per_task_neck_and_mixed_heads():
    model = build(tasks=('semseg', 'depth'), neck=dict(semseg=NECK),
                  decode_heads=dict(semseg=HEADS['uperhead'],
                                    depth=dict(type='SAKHead', patch_size=8)))
    assert model.neck is None and list(model.necks) == ['semseg']
    depth = model.decode_heads['depth']
    assert (depth.in_channels, depth.num_levels) == (32, 4)  # straight from the student
    inputs, _ = make_batch(tasks=('semseg', 'depth'))
    logits = model(inputs, mode='tensor')
    assert logits['semseg'].shape == (2, 3, 32, 48) and logits['depth'].shape == (2, 1, 32, 48)


def test_state_dict_keys_and_strict_round_trip():
    plain = MODELS.build(distiller_cfg(build_teachers=False))
    assert plain.neck is None and plain.necks is None and plain.auxiliary_heads is None
    assert {k.split('.')[0] for k in plain.state_dict()} == {'student', 'decode_heads',
                                                               'expert_order'}
    kw = dict(neck=NECK, decode_heads=HEADS['fpnhead'], auxiliary_heads=dict(semseg=FCN_AUX),
              build_teachers=False)
    model = build(**kw).eval()
    state = model.state_dict()
    prefixes = {k.split('.')[0] for k in state}
    assert prefixes == {'student', 'neck', 'decode_heads', 'auxiliary_heads', 'expert_order'}
    assert any(k.startswith('auxiliary_heads.semseg.conv_seg.') for k in state)
    torch.manual_seed(1)
    other = MODELS.build(sak_cfg(**kw)).eval()
    other.load_state_dict(copy.deepcopy(state), strict=True)
    inputs, _ = make_batch(tasks=TASKS)
    a, b = model(inputs, mode='tensor'), other(inputs, mode='tensor')
    for t in TASKS:
        torch.testing.assert_close(a[t], b[t])


@pytest.mark.parametrize('change,exc,match', [
    (dict(decode_heads=dict(HEADS['uperhead'], loss_decode=dict(type='CrossEntropyLoss'))),
     ValueError, r"decode_heads.semseg sets loss_decode(.|\n)*task_losses\['semseg'\]"),
    (dict(auxiliary_heads=dict(semseg=dict(FCN_AUX, loss_decode=[]))), ValueError,
     r'auxiliary_heads.semseg sets loss_decode(.|\n)*auxiliary_loss_weight'),
    (dict(auxiliary_heads=FCN_AUX), KeyError, r'auxiliary_heads must be \{task: head config\}'),
    (dict(auxiliary_heads=dict(sal=FCN_AUX)), KeyError, "got keys \\['sal'\\]"),
    (dict(auxiliary_heads=dict(semseg=FCN_AUX), auxiliary_loss_weight=dict(edge=1.0)),
     KeyError, r"without an auxiliary head: \['edge'\]"),
    (dict(decode_heads=dict(type='mmseg.NoSuchHead')), KeyError,
     "decode_heads.semseg: type 'mmseg.NoSuchHead' is not a registered"),
])
def test_config_errors(change, exc, match):
    with pytest.raises(exc, match=match):
        MODELS.build(sak_cfg(build_teachers=False, **change))


def test_head_with_several_outputs_is_refused_at_its_first_forward():
    model = build(tasks=('semseg', ), decode_heads=dict(type='mmseg.DAHead', channels=8,
                                                        pam_channels=4), build_teachers=False)
    inputs, _ = make_batch(tasks=('semseg', ))
    with pytest.raises(TypeError, match=r'decode_heads.semseg \(DAHead\) returned tuple, not '
                                        r'logits \(B, K, h, w\)'):
        model(inputs, mode='tensor')
