"""build_teachers / build_teacher_cfg: what the distillers and the feature cache build."""
import torch

from sakbox.models import build_teachers as build_teachers_from_models
from sakbox.models.teachers import (
    DEFAULT_INPUT_NORM,
    build_teacher_cfg,
    build_teachers,
    probe_teacher_dims,
    teacher_init_seeds,
)
from sakbox.registry import MODELS

PREPROC = dict(type='MultiTaskDataPreProcessor', mean=[1., 2., 3.], std=[4., 5., 6.])
VIT = dict(type='TimmViTTeacher', arch='vit_small_patch14_dinov2', pretrained=False,
           model_kwargs=dict(depth=2, embed_dim=32, num_heads=2), out_indices=(0, 1))


def _teachers():
    return dict(b=dict(VIT), a=dict(VIT, input_norm='student'))


def test_built_cfg_passes_the_student_normalisation_and_spells_input_norm():
    cfg = build_teacher_cfg(VIT, PREPROC, 'dino')
    assert cfg['input_mean'] == [1., 2., 3.] and cfg['input_std'] == [4., 5., 6.]
    assert cfg['input_norm'] == DEFAULT_INPUT_NORM
    assert 'input_mean' not in VIT  # a copy
    # the teacher's own setting wins; a built module or None passes nothing on
    assert build_teacher_cfg(dict(VIT, input_mean=[0, 0, 0]), PREPROC)['input_mean'] == [0, 0, 0]
    assert 'input_mean' not in build_teacher_cfg(VIT, None)
    assert 'input_mean' not in build_teacher_cfg(VIT, MODELS.build(PREPROC))


def test_build_teachers_frozen_seeded_in_order_and_equal_to_the_distillers():
    teachers = build_teachers(_teachers(), PREPROC, seed=3)
    assert list(teachers) == ['b', 'a'] and build_teachers_from_models is build_teachers
    for t in teachers.values():
        assert not t.training and not any(p.requires_grad for p in t.parameters())
    assert teachers['a'].input_norm == 'student' and teachers['b'].input_norm == 'teacher'
    again = build_teachers(_teachers(), PREPROC, seed=3)
    for name in teachers:
        for p, q in zip(teachers[name].parameters(), again[name].parameters()):
            assert torch.equal(p, q)
    # teacher i is built under seed + i: the two identical configs differ
    assert not torch.equal(next(teachers['a'].parameters()), next(teachers['b'].parameters()))
    assert teacher_init_seeds(['b', 'a'], 3) == dict(b=3, a=4)
    assert teacher_init_seeds(['b'], None) == dict(b=None)
    model = MODELS.build(dict(
        type='MultiTeacherDistiller', teachers=_teachers(), data_preprocessor=PREPROC,
        teacher_init_seed=3, teacher_precision='fp32',
        student=dict(type='SAKViT', arch='vit_base_patch16_384', pretrained=False, img_size=28,
                     model_kwargs=dict(depth=2, embed_dim=32, num_heads=2),
                     out_indices=(0, 1))))
    for name in teachers:
        assert model.teacher_cfgs[name] == build_teacher_cfg(_teachers()[name], PREPROC, name)
        for p, q in zip(teachers[name].parameters(), model.teachers[name].parameters()):
            assert torch.equal(p, q)
    assert len(build_teachers(None)) == 0


def test_probe_teacher_dims_builds_without_weights():
    assert probe_teacher_dims(VIT) == [32, 32]
