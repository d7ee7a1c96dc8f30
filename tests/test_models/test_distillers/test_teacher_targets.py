"""BaseDistiller teacher targets: precision, inference mode, cached features."""
import pytest
import torch

from sakbox.registry import MODELS
from sakbox.structures import MultiTaskDataSample
from sakbox.utils.precision import resolve_precision

from .stubs import make_batch, stage1_cfg


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)


def _reference(model, inputs):
    """fp32 teacher outputs computed directly (no distiller plumbing)."""
    with torch.no_grad():
        return {n: [f.float() for f in t(inputs)] for n, t in model.teachers.items()}


def test_fp32_targets_equal_direct_call_and_are_autograd_safe():
    model = MODELS.build(stage1_cfg(teacher_precision='fp32'))
    inputs, _ = make_batch()
    feats = model.forward_teachers(inputs)
    ref = _reference(model, inputs)
    for name in ('t1', 't2'):
        for f, r in zip(feats[name], ref[name]):
            assert f.dtype == torch.float32 and not f.is_inference()
            assert torch.equal(f, r)
    # The outer (student) autocast must not leak into fp32 teachers.
    with torch.autocast('cpu', dtype=torch.bfloat16):
        in_autocast = model.forward_teachers(inputs)
    assert torch.equal(in_autocast['t1'][0], ref['t1'][0])
    # Targets are saved by the loss's backward: must not be inference tensors.
    losses = model(inputs, mode='loss')
    sum(losses.values()).backward()


def test_bf16_teachers_run_in_bf16_and_stay_close_to_fp32():
    model = MODELS.build(stage1_cfg(teacher_precision='bf16'))
    inputs, _ = make_batch()
    with model.teacher_context(inputs.device) as dtype:
        assert dtype == torch.bfloat16 and torch.is_inference_mode_enabled()
        assert model.teachers['t1'](inputs)[0].dtype == torch.bfloat16
    feats = model.forward_teachers(inputs)
    ref = _reference(model, inputs)
    f, r = feats['t1'][0], ref['t1'][0]
    assert f.dtype == torch.float32
    assert not torch.equal(f, r)  # really ran in bf16
    rel = (f - r).norm() / r.norm()
    assert rel < 1e-2, rel


@pytest.mark.parametrize('native', ['1', '0'])
def test_auto_precision_follows_the_host_kind(monkeypatch, native):
    # 'auto' is bf16 on AMX / AVX512-BF16 CPUs and fp32 on AVX2-only ones; the
    # override makes both behaviours run on every host.
    monkeypatch.setenv('SAKBOX_NATIVE_BF16', native)
    model = MODELS.build(stage1_cfg())
    assert model.teacher_precision == 'auto'
    inputs, _ = make_batch()
    with model.teacher_context(inputs.device) as dtype:
        assert dtype == (torch.bfloat16 if native == '1' else torch.float32)
    feats, ref = model.forward_teachers(inputs), _reference(model, inputs)
    for f, r in zip(feats['t1'], ref['t1']):
        assert f.dtype == torch.float32
        if native == '1':
            assert not torch.equal(f, r) and (f - r).norm() / r.norm() < 1e-2
        else:
            assert torch.equal(f, r)


def test_teacher_precision_values():
    assert resolve_precision('fp16', 'cpu') == torch.float16
    assert resolve_precision('fp32', 'cuda') == torch.float32
    assert resolve_precision('auto', 'cpu') in (torch.bfloat16, torch.float32)
    with pytest.raises(ValueError, match='teacher_precision'):
        MODELS.build(stage1_cfg(teacher_precision='int8'))


def _attach(samples, feats, names=None):
    for i, s in enumerate(samples):
        s.set_field({n: [lvl[i].half() for lvl in feats[n]]
                     for n in (names or feats)}, 'teacher_feats')


def test_cached_features_replace_online_teachers():
    online = MODELS.build(stage1_cfg(teacher_precision='fp32'))
    inputs, _ = make_batch()
    samples = [MultiTaskDataSample() for _ in range(inputs.shape[0])]
    _attach(samples, online.forward_teachers(inputs))
    # A model without teachers trains from the cache alone, same loss within fp16.
    cached = MODELS.build(stage1_cfg(build_teachers=False))
    cached.student.load_state_dict(online.student.state_dict())
    loss_online = online(inputs, samples, mode='loss')
    loss_cached = cached(inputs, samples, mode='loss')
    ref = online(inputs, [MultiTaskDataSample() for _ in samples], mode='loss')
    for k in ref:
        torch.testing.assert_close(loss_cached[k], ref[k], rtol=2e-3, atol=2e-3)
        assert torch.equal(loss_cached[k], loss_online[k])
    # Without a cache the teacher-free model says what is missing.
    with pytest.raises(RuntimeError, match=r"build_teachers=False.*\['t1', 't2'\]"):
        cached(inputs, [MultiTaskDataSample() for _ in samples], mode='loss')


def test_partial_cache_runs_the_rest_online():
    model = MODELS.build(stage1_cfg(teacher_precision='fp32'))
    inputs, _ = make_batch()
    full = model.forward_teachers(inputs)
    samples = [MultiTaskDataSample() for _ in range(inputs.shape[0])]
    _attach(samples, full, names=['t2'])
    calls = []
    model.teachers['t2'].register_forward_hook(lambda *a: calls.append('t2'))
    model.teachers['t1'].register_forward_hook(lambda *a: calls.append('t1'))
    got = model.get_teacher_feats(inputs, samples)
    assert list(got) == ['t1', 't2'] and calls == ['t1']
    torch.testing.assert_close(got['t2'][0], full['t2'][0], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize('bad, match', [
    (lambda f: {'t1': f['t1'], 'tx': f['t1']}, r"unknown teachers \['tx'\]"),
    (lambda f: {'t1': f['t1'][:1]}, r"teacher_feats\['t1'\] has \[1, 1\] levels"),
    (lambda f: {'t1': [x[:3] for x in f['t1']]}, r"level 0 has 3 channels; the teacher has 8"),
])
def test_bad_cache_is_reported(bad, match):
    model = MODELS.build(stage1_cfg(teacher_precision='fp32'))
    inputs, _ = make_batch()
    feats = model.forward_teachers(inputs)
    samples = [MultiTaskDataSample() for _ in range(inputs.shape[0])]
    for i, s in enumerate(samples):
        per = {n: [lvl[i] for lvl in levels] for n, levels in feats.items()}
        s.set_field(bad(per), 'teacher_feats')
    with pytest.raises((KeyError, ValueError), match=match):
        model.get_teacher_feats(inputs, samples)
