"""``input_norm``: what every teacher class's network receives, against hand-made references.

The official SAK feeds every teacher the student's normalised batch as it is (plus the
teacher's own geometric rule: SAM resizes the long side and zero-pads bottom/right);
``input_norm='teacher'`` instead maps it to the teacher's own statistics,
``(x * std_s + mean_s - mean_t) / std_t``. The tap is a forward pre-hook on the first
module that sees the image, so the tests see exactly what the network is given.
Everything runs in fp32 (teachers called directly; no autocast), on any CPU kind.
"""
import pytest
import torch
import torch.nn.functional as F

from sakbox.models.teachers import INPUT_NORMS, fill_input_norm
from sakbox.registry import MODELS

from .tiny_models import TINY_OPEN_CLIP

TINY_VIT = dict(depth=2, embed_dim=32, num_heads=2)
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
OPENAI_CLIP = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
INCEPTION = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
# Student statistics unlike any teacher's, so that re-normalising is never the identity.
STUDENT_MEAN, STUDENT_STD = (100., 110., 120.), (50., 60., 70.)
SIZE = (32, 32)


def _first(module_path):
    """A getter of the submodule that receives the image (dotted path from the teacher)."""
    def get(teacher):
        m = teacher
        for part in module_path.split('.'):
            m = getattr(m, part)
        return m
    return get


def _sam_geometry(x):
    """Official SAM input rule for long side 32: bicubic resize, zero pad bottom/right."""
    h, w = x.shape[-2:]
    scale = 32 / max(h, w)
    nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
    x = F.interpolate(x, (nh, nw), mode='bicubic', align_corners=False)
    return F.pad(x, (0, 32 - nw, 0, 32 - nh))


# name: (config, the library's own stats in 0-1, image entry, input size, geometry)
CASES = {
    'timm_vit_clip': (dict(type='TimmViTTeacher', arch='vit_base_patch16_clip_384',
                           img_size=32, model_kwargs=TINY_VIT, out_indices=[0, 1]),
                      OPENAI_CLIP, _first('model.patch_embed'), SIZE, None),
    'timm_vit_dinov2': (dict(type='TimmViTTeacher', arch='vit_small_patch14_dinov2',
                             img_size=28, model_kwargs=TINY_VIT, out_indices=[0, 1]),
                        IMAGENET, _first('model.patch_embed'), (28, 28), None),
    'sam': (dict(type='SAMTeacher', long_side=32,
                 model_kwargs=dict(TINY_VIT, global_attn_indexes=(1, ), window_size=2,
                                   neck_chans=16), out_indices=[0, 1]),
            IMAGENET, _first('model.patch_embed'), (16, 24), _sam_geometry),
    'open_clip': (dict(type='OpenCLIPTeacher', model_name='ViT-B-16', img_size=32,
                       out_indices=[0, 1],
                       model_kwargs=TINY_OPEN_CLIP),
                  OPENAI_CLIP, _first('visual.conv1'), SIZE, None),
    'timm_cnn': (dict(type='TimmCNNTeacher', arch='test_resnet'),
                 INCEPTION, _first('model'), SIZE, None),
    'torchvision': (dict(type='TorchvisionTeacher', arch='mobilenet_v2', probe_size=64),
                    IMAGENET, _first('model'), SIZE, None),
}


def _build(name, input_norm, **kw):
    cfg = dict(CASES[name][0], input_mean=STUDENT_MEAN, input_std=STUDENT_STD,
               input_norm=input_norm, **kw)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _network_input(teacher, entry, x):
    """Run ``teacher`` on ``x`` and return what ``entry(teacher)`` received."""
    seen = []
    handle = entry(teacher).register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        feats = teacher(x)
    finally:
        handle.remove()
    assert len(seen) == 1
    return seen[0], feats


def _reference_renorm(x, mean01, std01):
    """(x * std_s + mean_s - mean_t) / std_t, RGB 0-255, written out per channel."""
    out = torch.empty_like(x)
    for c in range(3):
        rgb = x[:, c] * STUDENT_STD[c] + STUDENT_MEAN[c]
        out[:, c] = (rgb - mean01[c] * 255) / (std01[c] * 255)
    return out


@pytest.mark.parametrize('name', list(CASES))
def test_student_passes_the_input_through_unchanged(name):
    _, stats, entry, hw, geometry = CASES[name]
    t = _build(name, 'student')
    assert t.input_norm == 'student'
    # the network's statistics are the student's
    assert t.mean == list(STUDENT_MEAN) and t.std == list(STUDENT_STD)
    x = torch.randn(2, 3, *hw)
    got, _ = _network_input(t, entry, x)
    expected = x if geometry is None else geometry(x)
    assert torch.equal(got, expected)


@pytest.mark.parametrize('name', list(CASES))
def test_teacher_renormalises_to_its_own_stats(name):
    _, (mean01, std01), entry, hw, geometry = CASES[name]
    t = _build(name, 'teacher')
    assert t.mean == pytest.approx([m * 255 for m in mean01])
    assert t.std == pytest.approx([s * 255 for s in std01])
    x = torch.randn(2, 3, *hw)
    got, feats = _network_input(t, entry, x)
    expected = _reference_renorm(x, mean01, std01)
    if geometry is not None:
        expected = geometry(expected)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    # ... and the two choices give different features (the stats differ from the student's)
    first, first_student = feats[0], _build(name, 'student')(x)[0]
    assert (first - first_student).abs().max() > 1e-3 * first_student.abs().max()


def test_teacher_with_explicit_stats():
    t = _build('timm_vit_clip', 'teacher', mean=(10., 20., 30.), std=(2., 4., 8.))
    x = torch.randn(1, 3, *SIZE)
    got, _ = _network_input(t, CASES['timm_vit_clip'][2], x)
    expected = _reference_renorm(x, (10 / 255, 20 / 255, 30 / 255), (2 / 255, 4 / 255, 8 / 255))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_student_input_equals_the_network_called_directly():
    """With 'student' the features are the bare network's on the student's input."""
    t = _build('timm_vit_clip', 'student')
    x = torch.randn(2, 3, *SIZE)
    ref = t.model.forward_intermediates(x, indices=t.out_indices, intermediates_only=True,
                                        norm=False)
    for a, b in zip(t(x), ref):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize('name', list(CASES))
def test_bad_value_names_the_class_and_key(name):
    with pytest.raises(ValueError, match=f"{CASES[name][0]['type']}: input_norm must be one "
                                         "of \\('student', 'teacher'\\).*got 'imagenet'"):
        _build(name, 'imagenet')


@pytest.mark.parametrize('name', ['timm_vit_clip', 'sam', 'open_clip', 'timm_cnn',
                                  'torchvision'])
def test_student_refuses_teacher_stats(name):
    with pytest.raises(ValueError, match="input_norm='student'.*mean/std would be ignored"):
        _build(name, 'student', mean=(1., 2., 3.), std=(4., 5., 6.))


def test_fill_input_norm():
    cfg = dict(CASES['sam'][0])
    assert fill_input_norm(cfg)['input_norm'] == 'teacher'  # the class default
    assert 'input_norm' not in cfg  # a copy is returned
    assert fill_input_norm(dict(cfg, input_norm='student'))['input_norm'] == 'student'
    # not a BaseTeacher (or not registered): left alone
    assert fill_input_norm(dict(type='StubTeacherThatDoesNotExist')) == dict(
        type='StubTeacherThatDoesNotExist')
    with pytest.raises(ValueError, match="teachers.sam: input_norm must be one of"):
        fill_input_norm(dict(cfg, input_norm=None), 'teachers.sam')
    assert INPUT_NORMS == ('student', 'teacher')


@pytest.mark.parametrize('distiller', ['MultiTaskDistiller', 'MultiTeacherDistiller'])
def test_distiller_names_the_teacher_and_key(distiller):
    from tests.test_models.test_distillers.stubs import distiller_cfg, stage1_cfg
    make = distiller_cfg if distiller == 'MultiTaskDistiller' else stage1_cfg
    cfg = make(teachers=dict(clip=dict(CASES['timm_vit_clip'][0], input_norm='clip')))
    with pytest.raises(ValueError, match="teachers.clip: input_norm must be one of"):
        MODELS.build(cfg)


def test_distiller_records_input_norm_and_student_stats():
    """The built config spells input_norm out; 'student' teachers see the batch as it is."""
    from tests.test_models.test_distillers.stubs import stage1_cfg
    teachers = dict(a=dict(CASES['timm_vit_clip'][0], input_norm='student'),
                    b=dict(CASES['timm_vit_clip'][0]))
    model = MODELS.build(stage1_cfg(
        teachers=teachers, teacher_precision='fp32', teacher_dims=None,
        data_preprocessor=dict(type='MultiTaskDataPreProcessor', mean=list(STUDENT_MEAN),
                               std=list(STUDENT_STD))))
    a, b = model.teachers['a'], model.teachers['b']
    assert (a.input_norm, b.input_norm) == ('student', 'teacher')
    assert a.input_mean == b.input_mean == list(STUDENT_MEAN)
    x = torch.randn(1, 3, *SIZE)
    feats = model.forward_teachers(x)
    ref = a.model.forward_intermediates(x, indices=a.out_indices, intermediates_only=True,
                                        norm=False)
    for f, r in zip(feats['a'], ref):
        torch.testing.assert_close(f, r, rtol=0, atol=0)
