"""test_cfg of the three distillers: whole (default) and sliding-window predict."""
import pytest
import torch

from sakbox.models.utils import postprocess_logits, resize_logits, slide_windows
from sakbox.registry import MODELS

from .stubs import distiller_cfg, make_batch, stage1_cfg

RADIO_STUDENT = dict(type='RADIOViT', arch=dict(embed_dim=32, depth=2, num_heads=2),
                     patch_size=8, max_img_size=64)
TASKS = ('semseg', 'depth', 'normals', 'edge')


def radio_cfg(**kw):
    """A RADIODistiller on stand-in teachers: adaptor ``a`` at 1/4 (upsampled), ``b`` at 1/8."""
    cfg = dict(type='RADIODistiller', student=RADIO_STUDENT,
               teachers=dict(a=dict(type='StubTeacher', dim=12, patch=8),
                             b=dict(type='StubTeacher', dim=16, patch=4)),
               teacher_options=dict(a=dict(adaptor=dict(upsample_factor=2))),
               data_preprocessor=dict(type='mmengine.BaseDataPreprocessor'),
               teacher_init_seed=0, teacher_precision='fp32')
    cfg.update(kw)
    return cfg


BUILDERS = dict(multi_task=lambda **kw: distiller_cfg(TASKS, **kw),
                multi_teacher=lambda **kw: stage1_cfg(teacher_precision='fp32', **kw),
                radio=radio_cfg)
SLIDE = dict(mode='slide', crop_size=(16, 24), stride=(8, 8))


def _pair(kind: str, test_cfg: dict):
    """A whole-mode model and a ``test_cfg`` model with the same weights (loaded strictly)."""
    torch.manual_seed(0)
    whole = MODELS.build(BUILDERS[kind]()).eval()
    other = MODELS.build(BUILDERS[kind](test_cfg=test_cfg)).eval()
    # the knob adds no state: a whole-mode checkpoint loads strictly and unchanged
    assert list(other.state_dict()) == list(whole.state_dict())
    other.load_state_dict(whole.state_dict(), strict=True)
    return whole, other


def _fields(sample, kind):
    if kind == 'multi_task':
        return {t: sample.get_pred(t).data for t in TASKS}
    if kind == 'multi_teacher':
        return dict(sample.distill_cos)
    return {k: sample.get(k) for k in ('radio_summary', 'radio_features', 'adaptor_summary_a',
                                       'adaptor_features_a', 'adaptor_features_b')}


@pytest.mark.parametrize('kind', list(BUILDERS))
@pytest.mark.parametrize('crop', [(32, 48), (64, 64)])
def test_one_window_covering_the_input_equals_whole(kind, crop):
    whole, slide = _pair(kind, dict(mode='slide', crop_size=crop, stride=(8, 8)))
    assert whole.test_cfg['mode'] == 'whole' and slide.test_cfg['crop_size'] == crop
    inputs, samples = make_batch(tasks=TASKS if kind == 'multi_task' else ())
    a = whole(inputs, samples, mode='predict')
    b = slide(inputs.clone(), make_batch(tasks=TASKS if kind == 'multi_task' else ())[1],
              mode='predict')
    for sa, sb in zip(a, b):
        fa, fb = _fields(sa, kind), _fields(sb, kind)
        assert fa.keys() == fb.keys()
        for key in fa:
            assert (fa[key] == fb[key]) if isinstance(fa[key], float) \
                else torch.equal(fa[key], fb[key]), key


def _by_hand(fn, inputs, windows, rate):
    """Reference stitch of one dense output at ``rate`` cells per pixel (loops)."""
    B, _, H, W = inputs.shape
    acc, count = None, torch.zeros(1, 1, H // rate, W // rate)
    for top, left, h, w in windows:
        y = fn(inputs[:, :, top:top + h, left:left + w])
        if acc is None:
            acc = torch.zeros(B, y.shape[1], H // rate, W // rate)
        acc[:, :, top // rate:(top + h) // rate, left // rate:(left + w) // rate] += y
        count[:, :, top // rate:(top + h) // rate, left // rate:(left + w) // rate] += 1
    assert count.min() >= 1
    return acc / count


def test_multi_task_slide_predict_matches_a_reference():
    whole, model = _pair('multi_task', SLIDE)
    inputs, samples = make_batch(tasks=TASKS, img_shape=(20, 30), ori_shape=(20, 30))
    samples[1].set_metainfo(dict(pad_offset=(6, 12), ori_shape=(40, 50)))
    windows = slide_windows((32, 48), (16, 24), (8, 8))
    assert len(windows) == 12  # rows 0, 8, 16 x columns 0, 8, 16, 24
    with torch.no_grad():
        ref = {t: _by_hand(lambda x: model._forward(x)[t], inputs, windows, 1) for t in TASKS}
        weights = [model.student(inputs[:, :, t:t + h, c:c + w])['router_weights']
                   for t, c, h, w in windows]
    out = model(inputs, samples, mode='predict')
    for i, (top, left) in enumerate([(0, 0), (6, 12)]):
        ori = out[i].metainfo['ori_shape']
        for task in TASKS:
            x = resize_logits(ref[task][i:i + 1, :, top:top + 20, left:left + 30], ori)
            torch.testing.assert_close(out[i].get_pred(task).data,
                                       postprocess_logits(task, x)[0], rtol=1e-5, atol=1e-5)
    # the windows see other contexts than the whole input, so the logits differ
    assert not torch.allclose(whole(inputs, mode='predict')[0].pred_edge.data,
                              model(inputs, mode='predict')[0].pred_edge.data)
    # RouterStatsHook reads the router weights averaged over the windows
    for key, w in model.last_router_weights.items():
        torch.testing.assert_close(w, torch.stack([ws[key] for ws in weights]).mean(0))
    # `tensor` mode stays whole
    assert all(torch.equal(a, b) for a, b in zip(whole(inputs, mode='tensor').values(),
                                                 model(inputs, mode='tensor').values()))


def test_multi_task_slide_windows_go_through_few_forwards():
    _, model = _pair('multi_task', dict(SLIDE, batch_windows=5))
    seen = []
    model.student.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    inputs, _ = make_batch(tasks=())
    model(inputs, mode='predict')
    # 12 windows of the 2 images, 5 windows per forward
    assert seen == [(10, 3, 16, 24), (10, 3, 16, 24), (4, 3, 16, 24)]


def test_multi_teacher_student_and_teachers_both_slide():
    whole, model = _pair('multi_teacher', SLIDE)
    seen = {n: [] for n in model.teacher_names}
    for name, teacher in model.teachers.items():
        teacher.register_forward_pre_hook(lambda m, args, n=name: seen[n].append(args[0].shape))
    inputs, _ = make_batch(tasks=())
    out = model(inputs, mode='predict')
    assert seen == {n: [(24, 3, 16, 24)] for n in model.teacher_names}
    # stand-in stem and teachers are patch-wise (kernel = stride convs, 1x1 convs): on
    # windows aligned to their cells, the stitched features are the whole-input ones
    ref = whole(inputs, mode='predict')
    for a, b in zip(ref, out):
        assert a.distill_cos.keys() == b.distill_cos.keys()
        for key in a.distill_cos:
            assert b.distill_cos[key] == pytest.approx(a.distill_cos[key], abs=1e-5), key
    # windows that start inside the student's 8-px cells cannot be stitched
    model.test_cfg = dict(SLIDE, stride=(4, 8), batch_windows=None)
    with pytest.raises(ValueError, match=r"'student.t1.0'.*multiples of 8 px along the height"):
        model(inputs, mode='predict')


def test_radio_slide_stitches_maps_and_averages_summaries():
    _, model = _pair('radio', SLIDE)
    inputs, _ = make_batch(tasks=())
    windows = slide_windows((32, 48), (16, 24), (8, 8))
    out = model(inputs, mode='predict')
    with torch.no_grad():
        feat = lambda x: model.extract_feat(x, denormalize=True)  # noqa: E731
        ref = dict(
            radio_features=_by_hand(lambda x: feat(x)['features'], inputs, windows, 8),
            adaptor_features_a=_by_hand(lambda x: feat(x)['adaptors']['a']['features'],
                                        inputs, windows, 4),
            adaptor_features_b=_by_hand(lambda x: feat(x)['adaptors']['b']['features'],
                                        inputs, windows, 8))
        crops = [inputs[:, :, t:t + h, c:c + w] for t, c, h, w in windows]
        ref['radio_summary'] = torch.stack([feat(c)['summary'] for c in crops]).mean(0)
        ref['adaptor_summary_b'] = torch.stack(
            [feat(c)['adaptors']['b']['summary'] for c in crops]).mean(0)
    assert out[0].radio_features.shape == (32, 4, 6)
    assert out[0].adaptor_features_a.shape == (12, 8, 12)
    for i, sample in enumerate(out):
        for key, value in ref.items():
            torch.testing.assert_close(sample.get(key), value[i], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kind', list(BUILDERS))
@pytest.mark.parametrize('test_cfg,error,match', [
    (dict(mode='sliding'), ValueError, "test_cfg.mode must be one of"),
    (dict(mode='slide', crop_size=(16, 16)), KeyError, 'test_cfg.stride is required'),
    (dict(mode='slide', crop_size=(16, 16), stride=(8, 32)), ValueError, 'must not exceed'),
    (dict(mode='slide', crop_size=(16, 16), stride=8, window=2), KeyError, 'unknown keys'),
])
def test_bad_test_cfg_fails_at_build_time(kind, test_cfg, error, match):
    with pytest.raises(error, match=match):
        MODELS.build(BUILDERS[kind](test_cfg=test_cfg, build_teachers=False))
