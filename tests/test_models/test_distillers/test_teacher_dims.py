"""BaseDistiller.teacher_dims: built, given per level, given as one int, probed."""
import pytest
import torch

from sakbox.models.distillers.base_distiller import resolve_teacher_dims
from sakbox.registry import MODELS

from .stubs import distiller_cfg, make_batch, stage1_cfg

TINY_SAK = dict(type='SAKViT', arch='vit_base_patch16_384', pretrained=False, img_size=32,
                model_kwargs=dict(depth=4, embed_dim=32, num_heads=2))


@pytest.mark.parametrize('kind', ['MultiTaskDistiller', 'MultiTeacherDistiller'])
def test_one_int_width_reaches_a_four_level_stem(kind):
    # teacher_dims={'t': 64} (one width for every level, as documented) used to
    # become [64] and fail SAKViT's check for its 4 levels.
    make = distiller_cfg if kind == 'MultiTaskDistiller' else stage1_cfg
    cfg = make(student=dict(TINY_SAK), teachers=dict(t=dict(type='StubTeacher', dim=64)),
               build_teachers=False, teacher_dims=dict(t=64))
    if kind == 'MultiTaskDistiller':
        cfg['decode_heads'] = dict(type='SAKHead')
    model = MODELS.build(cfg)
    assert model.student.num_levels == 4
    assert model.student.teacher_dims == {'t': [64] * 4}
    assert model.teacher_dims == {'t': [64] * 4}
    out = model.student(torch.randn(1, 3, 32, 32))
    assert [f.shape[1] for f in out['distill']['t']] == [64] * 4


def test_one_int_width_serves_cached_features_of_every_level():
    cfg = stage1_cfg(student=dict(TINY_SAK), teachers=dict(t=dict(type='StubTeacher', dim=16)),
                     build_teachers=False, teacher_dims=dict(t=16))
    model = MODELS.build(cfg)
    inputs, samples = make_batch(batch=2, size=(32, 32))
    for s in samples:
        s.set_field({'t': [torch.randn(16, 2, 2) for _ in range(4)]}, 'teacher_feats')
    feats = model.get_teacher_feats(inputs, samples)
    assert [tuple(f.shape) for f in feats['t']] == [(2, 16, 2, 2)] * 4


def test_resolve_teacher_dims_sources():
    cfgs = dict(a=dict(type='StubTeacher', dim=8, num_levels=3), b=dict(type='StubTeacher'))
    assert resolve_teacher_dims(cfgs, dict(a=[1, 2, 3], b=5)) == dict(a=[1, 2, 3], b=[5])
    # not given: read off a weightless build
    assert resolve_teacher_dims(cfgs) == dict(a=[8, 8, 8], b=[8, 8])
    built = MODELS.build(stage1_cfg()).teachers
    assert resolve_teacher_dims(dict(t1={}, t2={}), dict(t1=3), built) == \
        dict(t1=[8, 8], t2=[8, 8])
