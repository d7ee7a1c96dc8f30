"""sakbox.converters.sak_official (files) and sak_official_keys (key map) on official-layout fixtures."""
import os.path as osp

import pytest
import torch
from mmengine.registry import DefaultScope

from sakbox.converters import (
    UnmappedKeysError,
    check_sak_file_with_config,
    convert_sak_official_file,
    convert_sak_official_state_dict,
    unwrap_sak_official,
)
from sakbox.registry import MODELS
from tests.fixtures.official_sak_checkpoints import (
    NYUD_CHANNELS,
    official_multitask_state_dict,
    official_sak_state_dict,
    official_training_checkpoint,
)

TASKS = ['semseg', 'normals', 'edge', 'depth']
TEACHERS = ['dinov2', 'clip', 'sam']
C, DEPTH, SIZE = 32, 4, (32, 48)  # grid (2, 3)


def build_sakbox(stage, teachers=TEACHERS, teacher_dims=None, out_indices=None,
                 depth=DEPTH, aligner='auto', router=dict(type='MoRRouter', noisy_gating=True)):
    """A tiny sakbox distiller (teachers not built) matching the fixtures."""
    dims = teacher_dims or {t: C for t in teachers}
    student = dict(type='SAKViT', arch='vit_base_patch16_384', pretrained=False, img_size=SIZE,
                   model_kwargs=dict(depth=depth, embed_dim=C, num_heads=4),
                   out_indices=out_indices, aligner=aligner, router=router)
    cfg = dict(
        student=student,
        # Never built (build_teachers=False and teacher_dims given): names and order only.
        teachers={t: dict(type='TimmViTTeacher', arch='vit_small_patch14_dinov2')
                  for t in teachers},
        teacher_dims={t: [dims[t]] * 4 for t in teachers},
        build_teachers=False)
    if stage == 1:
        cfg.update(type='MultiTeacherDistiller')
    else:
        cfg.update(type='MultiTaskDistiller', tasks=TASKS, task_channels=NYUD_CHANNELS,
                   decode_heads=dict(type='SAKHead', kernel_size=3),
                   task_losses=dict(semseg=dict(type='MultiTaskCrossEntropyLoss'),
                                    normals=dict(type='NormalsL1Loss'),
                                    edge=dict(type='BalancedBCELoss'),
                                    depth=dict(type='DepthL1Loss')))
    with DefaultScope.overwrite_default_scope('sakbox'):
        return MODELS.build(cfg).eval()


def official(stage, **kwargs):
    kwargs.setdefault('embed_dim', C)
    kwargs.setdefault('depth', DEPTH)
    if stage == 1:
        return official_sak_state_dict(**kwargs)
    return official_multitask_state_dict(tasks=TASKS, **kwargs)


def convert_file(tmp_path, official_sd, wrap=True, **kwargs):
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'sakbox.pth')
    torch.save(official_training_checkpoint(official_sd) if wrap else official_sd, src)
    meta = convert_sak_official_file(src, dst, **kwargs)
    assert meta['source_sha256'] and meta['converted_from'] == 'official.pth'
    return torch.load(dst, map_location='cpu', weights_only=True)  # must load weights-only


def expected_key(k, stage, out_indices=(0, 1, 2, 3)):
    """The documented mapping, written independently of the converter."""
    lvl = {i: n for n, i in enumerate(out_indices)}
    if stage == 2:
        if k.startswith('heads.'):
            return 'decode_heads.' + k[len('heads.'):]
        k = k[len('backbone.'):]
    parts = k.split('.')
    if parts[0] == 'vit':
        return 'student.' + k
    if parts[0] == 'tsap':
        return f'student.paths.{parts[1]}.adapters.{parts[2]}.' + '.'.join(parts[3:])
    i, name = parts[1].split('_', 1)
    if parts[0] == 'out_norms':
        return f'student.out_norms.{name}.{lvl[int(i)]}.{parts[2]}'
    if parts[0] == 'ts_aligners':
        return f'student.aligners.{name}.{lvl[int(i)]}.{parts[2]}'
    assert parts[0] == 'mor'
    return f'student.routers.{name}.{lvl[int(i)]}.mlp.' + '.'.join(parts[4:])


@pytest.mark.parametrize('stage,variant', [
    (1, 'plain'), (1, 'aligners'), (2, 'plain'), (2, 'aligners'), (2, 'clean_gating'),
    (2, 'no_router'), (2, 'out_indices')])
def test_convert_loads_strictly_with_every_value_in_place(tmp_path, stage, variant):
    kw, model_kw, out_indices = {}, {}, (0, 1, 2, 3)
    if variant == 'aligners':  # official `aligner: True` with wider teachers (as BS/LB)
        dims = dict(dinov2=48, clip=64, sam=40)
        kw['teacher_dims'] = dims
        model_kw['teacher_dims'] = dims
    elif variant == 'clean_gating':
        kw['noisy_gating'] = False
        model_kw['router'] = dict(type='MoRRouter', noisy_gating=False)
    elif variant == 'no_router':  # official router_type: none
        kw['router'] = False
        model_kw['router'] = None
    elif variant == 'out_indices':  # levels are ranks of the official block indices
        out_indices = (1, 3, 4, 5)
        kw.update(depth=6, out_indices=out_indices)
        model_kw.update(depth=6, out_indices=list(out_indices))
    off = official(stage, **kw)
    ckpt = convert_file(tmp_path, off)
    model = build_sakbox(stage, **model_kw)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    sd = model.state_dict()
    assert len(ckpt['state_dict']) == len(off)
    for k, v in off.items():
        assert torch.equal(sd[expected_key(k, stage, out_indices)], v), k
    meta = ckpt['meta']
    assert meta['converted_from'] == 'official.pth' and meta['official_stage'] == stage
    assert meta['teacher_names'] == TEACHERS and meta['out_indices'] == list(out_indices)
    assert meta['official_epoch'] == 29 and meta['official_iter_count'] == 123
    assert meta['tasks'] == (TASKS if stage == 2 else [])
    assert meta['aligners'] == (variant == 'aligners')


def test_stage1_file_initialises_a_stage2_student(tmp_path):
    """A converted stage-1 file is a valid ``model.student.checkpoint`` (routers missing)."""
    ckpt = convert_file(tmp_path, official(1))
    model = build_sakbox(2)
    model.student.load_checkpoint(str(tmp_path / 'sakbox.pth'))
    for k, v in ckpt['state_dict'].items():
        assert torch.equal(model.state_dict()[k], v), k


def test_teacher_reorder_permutes_router_experts(tmp_path):
    """Converted for another teacher order, the model computes the same outputs."""
    off = official(2)
    same = convert_file(tmp_path, off)['state_dict']
    moved = convert_file(tmp_path, off, teacher_names=['sam', 'dinov2', 'clip'])
    assert moved['meta']['teacher_names'] == ['sam', 'dinov2', 'clip']
    assert moved['meta']['official_teacher_names'] == TEACHERS
    a = build_sakbox(2)
    b = build_sakbox(2, teachers=['sam', 'dinov2', 'clip'])
    a.load_state_dict(same, strict=True)
    b.load_state_dict(moved['state_dict'], strict=True)
    w = off['backbone.mor.0_semseg.router.module.3.weight']
    rows = [0, 3, 1, 2]  # [stem, sam, dinov2, clip] of [stem, dinov2, clip, sam]
    expect = w[rows + [4 + r for r in rows]]
    assert torch.equal(moved['state_dict']['student.routers.semseg.0.mlp.3.weight'], expect)
    x = torch.randn(2, 3, *SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out_a, out_b = a(x, mode='tensor'), b(x, mode='tensor')
    for task in TASKS:
        # Only the order of the router's weighted sum differs: float rounding, scaled
        # by the (large, random-weight) logits.
        scale = out_a[task].abs().max().item()
        torch.testing.assert_close(out_a[task], out_b[task], rtol=0, atol=1e-5 * scale)


def test_teacher_rename(tmp_path):
    ckpt = convert_file(tmp_path, official(1), teacher_names=['dinov2', 'clip=openclip', 'sam'])
    assert 'student.paths.openclip.adapters.0.scale' in ckpt['state_dict']
    build_sakbox(1, teachers=['dinov2', 'openclip', 'sam']).load_state_dict(
        ckpt['state_dict'], strict=True)


@pytest.mark.parametrize('extra', ['backbone.mystery.weight', 'heads.semseg.aux.weight',
                                   'backbone.vit.norm.weight'])
def test_unmapped_keys_raise_naming_them(tmp_path, extra):
    off = official(2)
    off[extra] = torch.zeros(3)
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'sakbox.pth')
    torch.save(official_training_checkpoint(off), src)
    with pytest.raises(UnmappedKeysError, match=extra.replace('.', r'\.')):
        convert_sak_official_file(src, dst)
    assert not osp.exists(dst)
    with pytest.raises(UnmappedKeysError, match=extra.replace('.', r'\.')):
        convert_sak_official_state_dict(off)
    # The escape hatch drops them and lists them.
    assert convert_sak_official_file(src, dst, allow_unmapped=True)['unmapped_keys'] == [extra]
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert ckpt['meta']['unmapped_keys'] == [extra]
    build_sakbox(2).load_state_dict(ckpt['state_dict'], strict=True)


def test_whole_distiller_and_ddp_prefixes_drop_teachers(tmp_path):
    """A full MTMT_Distiller state dict under DDP: teachers dropped, student kept."""
    sd = {'module.student.' + k: v for k, v in official(2).items()}
    sd['module.teachers.dinov2.model.pos_embed'] = torch.zeros(1, 5, 8)
    student, info, dropped = unwrap_sak_official({'model': sd, 'epoch': 3})
    assert dropped == ['teachers.dinov2.model.pos_embed'] and info == {'epoch': 3}
    ckpt = convert_file(tmp_path, sd)
    assert ckpt['meta']['dropped_teacher_keys'] == 1
    build_sakbox(2).load_state_dict(ckpt['state_dict'], strict=True)


def test_bare_state_dict_and_stage_flags(tmp_path):
    off = official(1)
    ckpt = convert_file(tmp_path, off, stage=1, wrap=False)
    assert ckpt['meta']['model_type'] == 'MultiTeacherDistiller'
    src = str(tmp_path / 'official.pth')
    with pytest.raises(ValueError, match='--stage 2'):
        convert_sak_official_file(src, str(tmp_path / 'x.pth'), stage=2)
    # A sakbox file fed back in is recognised, not misreported key by key.
    with pytest.raises(ValueError, match='already converted'):
        convert_sak_official_file(str(tmp_path / 'sakbox.pth'), str(tmp_path / 'y.pth'))


@pytest.mark.parametrize('names,match', [(['dinov2', 'clip'], 'missing'),
                                         (['dinov2', 'clip', 'radio'], 'radio'),
                                         (['dinov2', 'clip=sam', 'sam'], 'two teachers')])
def test_bad_teacher_names(names, match):
    with pytest.raises(ValueError, match=match):
        convert_sak_official_state_dict(official(1), teacher_names=names)


def test_safetensors_needs_the_official_teacher_order(tmp_path):
    safetensors = pytest.importorskip('safetensors.torch')
    src = str(tmp_path / 'official.safetensors')
    safetensors.save_file(dict(official(2)), src)  # keys stored sorted: clip, dinov2, sam
    dst = str(tmp_path / 'sakbox.pth')
    with pytest.raises(ValueError, match='--official-teacher-order'):
        convert_sak_official_file(src, dst)
    convert_sak_official_file(src, dst, official_teacher_order=TEACHERS)
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    reference = convert_sak_official_state_dict(official(2))[0]
    for k, v in reference.items():
        assert torch.equal(ckpt['state_dict'][k], v), k


def test_config_check_of_a_stage1_file_builds_no_teacher(tmp_path, monkeypatch):
    # A stage-1 distiller builds its teachers at test time by default; the
    # converter's --config check must not (they would be downloaded).
    cfg = tmp_path / 'stage1.py'
    cfg.write_text(
        "default_scope = 'sakbox'\n"
        "model = dict(type='MultiTeacherDistiller', student=dict(\n"
        "    type='SAKViT', arch='vit_base_patch16_384', pretrained=True,\n"
        f"    img_size={SIZE}, model_kwargs=dict(depth={DEPTH}, embed_dim={C}, num_heads=4)),\n"
        "    teachers={n: dict(type='TimmViTTeacher', arch='vit_base_patch14_dinov2',\n"
        "                      pretrained=True) for n in " + repr(TEACHERS) + "},\n"
        f"    teacher_dims={{n: [{C}] * 4 for n in {TEACHERS!r}}})\n")
    from sakbox.models.teachers import TimmViTTeacher

    def no_build(self, *args, **kwargs):
        raise AssertionError(f'a teacher was built: {kwargs}')

    monkeypatch.setattr(TimmViTTeacher, '__init__', no_build)
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'sakbox.pth')
    torch.save(official_training_checkpoint(official(1)), src)
    convert_sak_official_file(src, dst)
    check_sak_file_with_config(str(cfg), dst)
