"""RADIOTeacher: a converted or sakbox-trained RADIO student as a frozen teacher."""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope

from sakbox.models.teachers import RADIOTeacher
from sakbox.registry import MODELS
from sakbox.utils import CheckpointMismatchError

RADIO_MEAN = [122.771, 116.746, 104.094]
RADIO_STD = [68.501, 66.632, 70.323]
STUDENT = dict(type='RADIOViT', arch=dict(embed_dim=32, depth=4, num_heads=2), patch_size=8,
               max_img_size=64, register_multiple=4)
DISTILLER = dict(
    type='RADIODistiller', student=STUDENT,
    teachers=dict(b=dict(type='RADIOStubTeacherB'), a=dict(type='RADIOStubTeacherA')),
    teacher_dims=dict(a=[12], b=[16]),
    teacher_options=dict(a=dict(summary_channels=20), b=dict(summary_channels=24)),
    phi_s=dict(summary=True),
    data_preprocessor=dict(type='MultiTaskDataPreProcessor', mean=RADIO_MEAN, std=RADIO_STD),
    build_teachers=False)


def _trained(tmp_path, cfg=DISTILLER):
    """A RADIODistiller with perturbed weights saved as a training checkpoint."""
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('sakbox'):
        model = MODELS.build(copy.deepcopy(cfg))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    path = str(tmp_path / 'iter_2.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(cfg='ignored text')), path)
    return model.eval(), path


def _student_input(x):
    """The student's ImageNet-normalised batch in the RADIO model's statistics."""
    imnet_m, imnet_s = torch.tensor([123.675, 116.28, 103.53]), torch.tensor([58.395, 57.12,
                                                                             57.375])
    raw = x * imnet_s.view(1, 3, 1, 1) + imnet_m.view(1, 3, 1, 1)
    return (raw - torch.tensor(RADIO_MEAN).view(1, 3, 1, 1)) / torch.tensor(RADIO_STD).view(
        1, 3, 1, 1)


def test_trained_checkpoint_with_its_config(tmp_path):
    ref, path = _trained(tmp_path)
    t = RADIOTeacher(checkpoint=path, config=copy.deepcopy(DISTILLER))
    assert t.embed_dims == [32] * 4 and t.out_indices == [0, 1, 2, 3]
    assert t.mean == pytest.approx(RADIO_MEAN) and t.summary_dim == 2 * 32
    assert not any(p.requires_grad for p in t.parameters()) and not t.train().training
    assert not any(k.startswith(('adaptors', 'phi_s')) for k in t.state_dict())
    x = torch.randn(2, 3, 40, 56)
    feats, summary = t.forward_with_summary(x)
    with torch.no_grad():
        out = ref.student(_student_input(x))
    for a, b in zip(feats[:3], out['levels'][:3]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(feats[-1], out['features'], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(summary, ref.backbone_summary(out['summary']), rtol=1e-4,
                               atol=1e-4)
    for a, b in zip(t(x), feats):
        torch.testing.assert_close(a, b)
    # inputs off the patch grid go to the nearest supported size; out_indices select blocks
    t2 = RADIOTeacher(checkpoint=path, config=copy.deepcopy(DISTILLER), out_indices=[1, 2],
                      final_features=False, with_summary=False)
    assert t2.summary_dim is None and t2.embed_dims == [32, 32]
    levels = t2(torch.randn(1, 3, 37, 50))
    assert [tuple(f.shape) for f in levels] == [(1, 32, 5, 6)] * 2


def test_explicit_summary_slots_and_a_reordered_config(tmp_path):
    """MMEngine writes configs back with sorted teachers: the teacher is the same."""
    ref, path = _trained(tmp_path)
    assert ref.summary_slots == dict(b=0, a=1)
    swapped = copy.deepcopy(DISTILLER)
    swapped['teachers'] = dict(a=swapped['teachers']['a'], b=swapped['teachers']['b'])
    swapped['backbone_summary_slots'] = None
    t = RADIOTeacher(checkpoint=path, config=swapped, summary_slots=[1])
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        tokens = ref.student(_student_input(x))['summary']
    torch.testing.assert_close(t.forward_with_summary(x)[1], tokens[:, 1], rtol=1e-4,
                               atol=1e-4)


def test_converted_release_needs_no_config(tmp_path):
    ref, _ = _trained(tmp_path)
    radio_config = dict(
        student=dict(STUDENT, num_cls_tokens=2),
        teachers=dict(b=dict(summary_channels=24, summary_slot=0, feature_channels=16),
                      a=dict(summary=False, feature_channels=12)),
        backbone_summary_slots=[0],
        data_preprocessor=dict(mean=RADIO_MEAN, std=RADIO_STD))
    state = {k: v for k, v in ref.state_dict().items()
             if not k.startswith(('phi_s', 'adaptors.a.summary'))}
    path = str(tmp_path / 'converted.pth')
    torch.save(dict(state_dict=state, meta=dict(radio_config=radio_config)), path)
    t = RADIOTeacher(checkpoint=path)
    assert t.summary_dim == 32 and t.mean == pytest.approx(RADIO_MEAN)
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        out = ref.student(_student_input(x))
    torch.testing.assert_close(t.forward_with_summary(x)[1], out['summary'][:, 0],
                               rtol=1e-4, atol=1e-4)


def test_errors_name_the_file_and_what_to_give(tmp_path):
    _, path = _trained(tmp_path)
    with pytest.raises(ValueError, match=r'has no meta\["radio_config"\].*config=<the RADIO'):
        RADIOTeacher(checkpoint=path)
    with pytest.raises(FileNotFoundError, match='missing.pth not found'):
        RADIOTeacher(checkpoint=str(tmp_path / 'missing.pth'), config=DISTILLER)
    wider = copy.deepcopy(DISTILLER)
    wider['student'] = dict(STUDENT, arch=dict(embed_dim=48, depth=4, num_heads=2))
    with pytest.raises(CheckpointMismatchError, match='iter_2.pth does not fit'):
        RADIOTeacher(checkpoint=path, config=wider)
    with pytest.raises(TypeError, match='not a RADIODistiller'):
        RADIOTeacher(config=dict(type='MultiTaskDistiller'))
    with pytest.raises(ValueError, match='no hub weights'):
        RADIOTeacher(config=DISTILLER, pretrained=True)


def test_weightless_build_for_the_distillers(tmp_path):
    with torch.device('meta'):
        t = RADIOTeacher(config=copy.deepcopy(DISTILLER))
    assert t.embed_dims == [32] * 4 and t.mean == pytest.approx(RADIO_MEAN)
    # and a real teacher sees the student's inputs exactly as the RADIO model's preprocessor
    t = RADIOTeacher(config=copy.deepcopy(DISTILLER))
    x = torch.randn(1, 3, 16, 16)
    torch.testing.assert_close(t.convert_input(x), _student_input(x), rtol=1e-5, atol=1e-5)


def test_input_norm_student_passes_the_input_through_and_refuses_stats():
    with pytest.raises(ValueError, match="input_norm='student'"):
        RADIOTeacher(config=copy.deepcopy(DISTILLER), input_norm='student', mean=[1, 2, 3],
                     std=[1, 1, 1])
    assert RADIOTeacher(config=copy.deepcopy(DISTILLER)).input_norm == 'teacher'
    t = RADIOTeacher(config=copy.deepcopy(DISTILLER), input_norm='student')
    assert t.input_norm == 'student' and t.mean == t.input_mean and t.std == t.input_std
    x = torch.randn(1, 3, 16, 16)
    torch.testing.assert_close(t.convert_input(x), x, rtol=0, atol=1e-6)
