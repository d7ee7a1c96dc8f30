"""Tests of the AM-RADIO distiller (with tiny stand-in teachers)."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from sakbox.models.adaptor_heads import PhiSStatsAccumulator
from sakbox.registry import MODELS


@MODELS.register_module(name='RadioStubTeacher', force=True)
class RadioStubTeacher(nn.Module):
    """Frozen conv teacher: 2 levels (B, dim, H / patch, W / patch); records input sizes."""

    def __init__(self, dim: int = 12, patch: int = 8, input_mean=None, input_std=None,
                 pretrained=False, checkpoint=None) -> None:
        super().__init__()
        self.embed_dims = [dim, dim]
        self.conv = nn.Conv2d(3, dim, patch, patch)
        self.conv2 = nn.Conv2d(dim, dim, 1)
        self.seen_sizes = []
        self.requires_grad_(False)

    def train(self, mode: bool = True):  # noqa: D102
        return super().train(False)

    @torch.no_grad()
    def forward(self, x):  # noqa: D102
        self.seen_sizes.append(tuple(x.shape[-2:]))
        a = self.conv(x)
        return [a, torch.tanh(self.conv2(a))]



@MODELS.register_module(name='RadioStubSummaryTeacher', force=True)
class RadioStubSummaryTeacher(RadioStubTeacher):
    """A stub teacher with its own (projected) summary, like CLIP's image embedding."""

    def __init__(self, summary_dim: int = 20, **kwargs) -> None:
        super().__init__(**kwargs)
        self.summary_dim = summary_dim
        self.proj = nn.Linear(self.embed_dims[-1], summary_dim).requires_grad_(False)

    @torch.no_grad()
    def forward_with_summary(self, x):  # noqa: D102
        levels = self(x)
        return levels, self.proj(levels[-1].amax(dim=(2, 3)))


@MODELS.register_module(name='RadioStubUnbuildableTeacher', force=True)
class RadioStubUnbuildableTeacher(RadioStubSummaryTeacher):
    """A summary teacher whose build always fails (e.g. a missing dependency)."""

    def __init__(self, **kwargs) -> None:
        raise ImportError('no module named fancy_backbone')


STUDENT = dict(type='RADIOViT', arch=dict(embed_dim=32, depth=2, num_heads=2), patch_size=8,
               max_img_size=64)


def _model(**kwargs):
    cfg = dict(type='RADIODistiller', student=STUDENT,
               teachers=dict(a=dict(type='RadioStubSummaryTeacher', dim=12, summary_dim=20),
                             b=dict(type='RadioStubTeacher', dim=16, patch=4)),
               data_preprocessor=dict(type='BaseDataPreprocessor'), teacher_init_seed=0,
               teacher_precision='fp32')  # tests compare with direct fp32 teacher calls
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def test_loss_keys_gradients_and_teacher_isolation():
    model = _model(teacher_options=dict(b=dict(adaptor=dict(upsample_factor=2))))
    assert model.student.num_cls_tokens == 2 and model.summary_slots == dict(a=0, b=1)
    assert model.adaptors['a'].summary_channels == 20  # the teacher's own summary width
    assert model.adaptors['b'].summary_channels == 16  # mean-pooled feature width
    losses = model(torch.randn(2, 3, 32, 32), mode='loss')
    assert list(losses) == ['loss_summary_a', 'loss_spatial_a', 'loss_summary_b',
                            'loss_spatial_b']
    sum(losses.values()).backward()
    assert model.student.patch_generator.pos_embed.grad is not None
    assert model.adaptors['b'].feature_mlp.fc1.weight.grad is not None
    assert all(p.grad is None for t in model.teachers.values() for p in t.parameters())
    assert not any(k.startswith('teachers') for k in model.state_dict())
    assert not any('conv2' in n for n, _ in model.named_parameters())


def test_summary_and_spatial_targets():
    model = _model(teacher_options=dict(b=dict(summary_source='mean', feature_level=0)))
    x = torch.randn(2, 3, 32, 32)
    ta, tb = model.teacher_targets('a', x), model.teacher_targets('b', x)
    levels, summ = model.teachers['a'].forward_with_summary(x)
    torch.testing.assert_close(ta['summary'], summ)
    torch.testing.assert_close(ta['features'], levels[-1])
    lb = model.teachers['b'](x)
    torch.testing.assert_close(tb['features'], lb[0])
    torch.testing.assert_close(tb['summary'], lb[0].mean(dim=(2, 3)))


@pytest.mark.parametrize('precision', ['bf16', 'fp16'])
def test_half_precision_targets_are_float32_and_close(precision):
    model = _model(teacher_precision=precision,
                   teacher_options=dict(b=dict(summary_source='mean', feature_level=0)))
    x = torch.randn(2, 3, 32, 32)
    ta, tb = model.teacher_targets('a', x), model.teacher_targets('b', x)
    levels, summ = model.teachers['a'].forward_with_summary(x)
    lb = model.teachers['b'](x)
    for got, ref in ((ta['summary'], summ), (ta['features'], levels[-1]),
                     (tb['features'], lb[0])):
        assert got.dtype == torch.float32 and not got.is_inference()
        assert not torch.equal(got, ref)  # really ran in half precision
        assert (got - ref).norm() / ref.norm() < 1e-2


def test_loss_values_match_reference():
    model = _model(teacher_options=dict(a=dict(summary_weight=0.5), b=dict(summary=False)),
                   distill_weight=2.0, teacher_loss_weights=dict(b=3.0))
    assert model.student.num_cls_tokens == 1 and model.adaptors['b'].summary_mlp is None
    model.eval()  # no random CPE crops: two forwards give the same student output
    x = torch.randn(2, 3, 32, 32)
    losses = model.loss(x)
    assert 'loss_summary_b' not in losses
    out = model.extract_feat(x)
    ta, tb = model.teacher_targets('a', x), model.teacher_targets('b', x)
    ref_sum = 2.0 * 0.5 * (1 - F.cosine_similarity(out['adaptors']['a']['summary'],
                                                   ta['summary'])).mean()
    torch.testing.assert_close(losses['loss_summary_a'], ref_sum)
    s = F.interpolate(out['adaptors']['b']['features'], size=tb['features'].shape[-2:],
                      mode='bilinear', align_corners=False)  # student -> teacher grid
    t = tb['features']
    ref_sp = 2.0 * 3.0 * (0.9 * (1 - F.cosine_similarity(s, t, dim=1)).mean()
                          + 0.1 * F.smooth_l1_loss(s, t))
    torch.testing.assert_close(losses['loss_spatial_b'], ref_sp)


def test_phi_s_stats_file_and_denormalised_predict(tmp_path):
    model = _model()
    x = torch.randn(8, 3, 32, 32)
    stats = {}
    for name in ('a', 'b'):
        raw = model.teachers[name].forward_with_summary(x) if name == 'a' else None
        feats = raw[0][-1] if raw else model.teachers[name](x)[-1]
        summ = raw[1] if raw else feats.mean(dim=(2, 3))
        accs = {'features': PhiSStatsAccumulator(feats.shape[1]),
                'summary': PhiSStatsAccumulator(summ.shape[1])}
        accs['features'].update(feats)
        accs['summary'].update(summ)
        stats[name] = {k: a.compute() for k, a in accs.items()}
    path = osp.join(tmp_path, 'phi_s.pth')
    torch.save(stats, path)
    model = _model(phi_s=dict(stats=path, summary=True))
    tgt = model.teacher_targets('b', x)
    assert tgt['features'].mean().abs() < 0.1  # centred
    torch.testing.assert_close(tgt['features'].permute(0, 2, 3, 1).reshape(-1, 16).var(0),
                               torch.ones(16), atol=0.05, rtol=0)
    model.eval()
    samples = model.predict(x[:2])
    out = model.extract_feat(x[:2])
    torch.testing.assert_close(samples[1].adaptor_features_b,
                               model.phi_s['b']['features'].inverse(
                                   out['adaptors']['b']['features'])[1])
    assert samples[0].radio_summary.shape == (2, 32)
    assert samples[0].adaptor_summary_a.shape == (20, )
    # PHI-S buffers travel in checkpoints; teachers do not
    test_model = _model(phi_s=dict(summary=True), build_teachers=False,
                        teacher_options=dict(a=dict(summary_channels=20)))
    test_model.load_state_dict(model.state_dict())
    torch.testing.assert_close(test_model.phi_s['a']['summary'].tx,
                               model.phi_s['a']['summary'].tx)
    with pytest.raises(KeyError, match='has no c.features'):
        _model(teachers=dict(c=dict(type='RadioStubTeacher')), phi_s=dict(stats=path))


def test_without_teachers_predict_works_and_loss_fails():
    model = _model(build_teachers=False)
    assert model.teachers is None
    assert model.adaptors['a'].summary_channels == 20  # read from a weightless build
    samples = model(torch.randn(1, 3, 24, 40), mode='predict')
    assert samples[0].radio_features.shape == (32, 3, 5)
    assert samples[0].adaptor_features_b.shape == (16, 3, 5)
    with pytest.raises(RuntimeError, match='build_teachers=False'):
        model(torch.randn(1, 3, 32, 32), mode='loss')


def test_train_resolution_and_teacher_input_size():
    model = _model(train_resolutions=[(48, 32)],
                   teacher_options=dict(b=dict(input_size=64)))
    model.loss(torch.randn(1, 3, 32, 32))
    assert model.teachers['a'].seen_sizes[-1] == (48, 32)
    assert model.teachers['b'].seen_sizes[-1] == (64, 64)
    model.set_train_resolution(40)
    model.loss(torch.randn(1, 3, 32, 32))
    assert model.teachers['a'].seen_sizes[-1] == (40, 40)


@pytest.mark.parametrize('match', ['teacher', 'larger'])
def test_eradio_student_and_feature_match(match):
    student = dict(type='ERADIO', dim=8, stem_dim=8, depths=(1, 1, 1, 1), num_heads=(2, 2),
                   window_size=2, embed_dim=24)
    model = _model(student=student, feature_match=match)
    assert model.student.num_cls_tokens == 2
    losses = model.loss(torch.randn(2, 3, 64, 64))
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    s = torch.randn(1, 4, 2, 2)
    t = torch.randn(1, 4, 8, 8)
    assert model._match(s, t)[0].shape[-2:] == (8, 8)
    s2, t2 = model._match(torch.randn(1, 4, 8, 8), torch.randn(1, 4, 2, 2))
    assert (t2.shape[-2:] == (8, 8)) == (match == 'larger')


def test_explicit_summary_slots():
    model = _model(teacher_options=dict(a=dict(summary_slot=3), b=dict(summary_slot=0)))
    assert model.student.num_cls_tokens == 4 and model.summary_slots == dict(a=3, b=0)
    model.eval()
    x = torch.randn(1, 3, 16, 16)
    out = model.extract_feat(x)
    ref = model.adaptors['a'].forward_summary(out['summary'][:, 3])
    torch.testing.assert_close(out['adaptors']['a']['summary'], ref)


def test_config_errors():
    with pytest.raises(KeyError, match='unknown keys'):
        _model(teacher_options=dict(a=dict(sumary=True)))
    with pytest.raises(KeyError, match='unknown teachers'):
        _model(teacher_options=dict(z=dict()))
    with pytest.raises(ValueError, match='num_cls_tokens=1 but summary slot 1'):
        _model(student=dict(STUDENT, num_cls_tokens=1))
    with pytest.raises(ValueError, match='feature_match'):
        _model(feature_match='student')


def test_reduced_distillation_check_learns_random_teachers():
    """Acceptance check, reduced: 2 random teachers, 32 px, 200 steps (~15 s on a CPU)."""
    from sakbox.analysis.radio_distill_check import run
    res = run(teachers=('vit', 'clip'), iters=200, batch=16, img_size=32, num_heldout=32,
                    num_phi_s=128, width=64, depth=2, lr=3e-3)
    for name in ('vit', 'clip'):
        before, after = res['untrained'][name], res['trained'][name]
        for key in ('summary_cos_phi_s', 'spatial_cos_phi_s'):
            assert before[key] < 0.3, (name, key, before)
            assert after[key] > 0.8, (name, key, after)
        assert after['spatial_cos_raw'] > 0.8, (name, after)


def test_summary_width_of_an_unbuildable_teacher_raises_naming_it():
    teachers = dict(a=dict(type='RadioStubSummaryTeacher', dim=12, summary_dim=20),
                    z=dict(type='RadioStubUnbuildableTeacher'))
    with pytest.raises(RuntimeError, match="summary width of teacher 'z'.*fancy_backbone.*"
                                           r'teacher_options\.z\.summary_channels'):
        _model(teachers=teachers, build_teachers=False, teacher_dims=dict(z=[8, 8]))
    model = _model(teachers=teachers, build_teachers=False, teacher_dims=dict(z=[8, 8]),
                   teacher_options=dict(z=dict(summary_channels=24)))
    assert model.adaptors['z'].summary_channels == 24
    # a class without any summary method needs no build: mean-pooled feature width
    model = _model(teachers=dict(b=dict(type='RadioStubTeacher', dim=16)), build_teachers=False)
    assert model.adaptors['b'].summary_channels == 16
    assert 'no summary of its own' in model.summary_width_source['b']
    # an opt-in summary left off in the config: known without building the teacher
    vit = dict(type='TimmViTTeacher', arch='vit_small_patch16_224', out_indices=[7],
               model_kwargs=dict(embed_dim=24, depth=2, num_heads=2))  # not buildable
    model = _model(teachers=dict(v=vit), build_teachers=False, teacher_dims=dict(v=[24]))
    assert model.adaptors['v'].summary_channels == 24
    with pytest.raises(RuntimeError, match="summary width of teacher 'v'.*out of range"):
        _model(teachers=dict(v=dict(vit, with_summary=True)), build_teachers=False,
               teacher_dims=dict(v=[24]))


def test_test_time_build_has_the_trained_widths_and_loads_strictly():
    trained = _model()
    test = _model(build_teachers=False)
    assert test.summary_width_source['a'].startswith('RadioStubSummaryTeacher.summary_dim')
    assert {k: tuple(v.shape) for k, v in test.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in trained.state_dict().items()}
    assert not test.load_state_dict(trained.state_dict(), strict=True).missing_keys
    other = _model(build_teachers=False, teacher_options=dict(a=dict(summary_channels=24)))
    with pytest.raises(RuntimeError, match="teacher 'a': the summary adaptor has 20 outputs in "
                                           r'the checkpoint, 24 in this model.*'
                                           r'teacher_options\.a\.summary_channels=20'):
        other.load_state_dict(trained.state_dict())


def test_summary_slots_travel_with_the_weights():
    trained = _model()
    assert trained.state_dict()['adaptors.b.summary_slot'] == 1
    # MMEngine writes configs back with sorted keys: here the teachers come b, a.
    swapped = _model(teachers=dict(b=dict(type='RadioStubTeacher', dim=16, patch=4),
                                   a=dict(type='RadioStubSummaryTeacher', dim=12,
                                          summary_dim=20)), build_teachers=False)
    assert swapped.summary_slots == dict(b=0, a=1)
    swapped.load_state_dict(trained.state_dict(), strict=True)
    assert swapped.summary_slots == dict(a=0, b=1)
    trained.eval()
    swapped.eval()
    x = torch.randn(1, 3, 16, 16)
    a, b = trained.extract_feat(x), swapped.extract_feat(x)
    for name in ('a', 'b'):
        torch.testing.assert_close(a['adaptors'][name]['summary'], b['adaptors'][name]['summary'])
    # checkpoints from before the slots were saved keep the config's slots
    old = {k: v for k, v in trained.state_dict().items() if not k.endswith('summary_slot')}
    fresh = _model(build_teachers=False)
    assert not fresh.load_state_dict(old, strict=True).missing_keys
    assert fresh.summary_slots == dict(a=0, b=1)
    bad = dict(trained.state_dict(), **{'adaptors.a.summary_slot': torch.tensor(5)})
    with pytest.raises(RuntimeError, match='summary_slot=5 in the checkpoint, but the student '
                                           'has 2 summary tokens'):
        fresh.load_state_dict(bad)


def test_backbone_summary_and_knn_features():
    from sakbox.evaluation.classification import select_embedding
    model = _model(teacher_options=dict(b=dict(summary=False)),
                   student=dict(STUDENT, num_cls_tokens=3))
    assert model.backbone_summary_slots == [0]
    model.eval()
    out = model.extract_feat(torch.randn(2, 3, 16, 16))
    torch.testing.assert_close(select_embedding(out, 'summary', model), out['summary'][:, 0])
    assert select_embedding(out, 'summary:all', model).shape == (2, 3 * 32)
    # converted official checkpoints give the official summary_idxs
    model = _model(backbone_summary_slots=[0, 2], student=dict(STUDENT, num_cls_tokens=3))
    emb = select_embedding(out, 'summary', model)
    torch.testing.assert_close(emb, torch.cat([out['summary'][:, 0], out['summary'][:, 2]], 1))
    with pytest.raises(ValueError, match=r'backbone_summary_slots \[5\] out of range'):
        _model(backbone_summary_slots=[5])


def test_teacher_distilled_from_a_high_resolution_student_pass():
    """RADIOv2.5's SAM: its own student pass at a high resolution on part of the batch."""
    model = _model(train_resolutions=[16],
                   teacher_options=dict(b=dict(student_input_size=48, student_batch=1)))
    model.eval()  # deterministic student (no CPE crops): compare with a reference
    x = torch.randn(2, 3, 32, 32)
    losses = model.loss(x)
    assert model.teachers['a'].seen_sizes[-1] == (16, 16)  # the low-resolution pass
    assert model.teachers['b'].seen_sizes[-1] == (48, 48)
    hi = F.interpolate(x[:1], size=(48, 48), mode='bilinear', align_corners=False,
                       antialias=True)
    pred = model.extract_feat(hi, names=['b'])
    assert set(pred['adaptors']) == {'b'}
    tgt = model.teacher_targets('b', hi)
    assert tgt['features'].shape[0] == 1
    s = F.interpolate(pred['adaptors']['b']['features'], size=tgt['features'].shape[-2:],
                      mode='bilinear', align_corners=False)
    ref = 0.9 * (1 - F.cosine_similarity(s, tgt['features'], dim=1)).mean() + \
        0.1 * F.smooth_l1_loss(s, tgt['features'])
    torch.testing.assert_close(losses['loss_spatial_b'], ref)
    ref_sum = (1 - F.cosine_similarity(pred['adaptors']['b']['summary'],
                                       tgt['summary'])).mean()
    torch.testing.assert_close(losses['loss_summary_b'], ref_sum)
    sum(losses.values()).backward()
    assert model.adaptors['b'].feature_mlp.fc1.weight.grad is not None
    with pytest.raises(ValueError, match='student_batch=0 needs a student_input_size'):
        _model(teacher_options=dict(b=dict(student_input_size=48, student_batch=0)))
