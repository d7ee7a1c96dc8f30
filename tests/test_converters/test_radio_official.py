"""sakbox.converters.radio_official on a hand-made fixture with the release key layout."""
import argparse

import pytest
import torch
import torch.nn.functional as F

from sakbox.converters import (
    convert_radio_backbone,
    convert_radio_official,
    convert_radio_official_file,
    load_radio_official,
    radio_config_fragment,
    realize_parametrizations,
)
from sakbox.registry import MODELS

C, P = 32, 8
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)


def _reference_model():
    """A sakbox RADIODistiller whose weights the fixture re-expresses in official keys."""
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='RADIODistiller',
        student=dict(type='RADIOViT', arch=dict(embed_dim=C, depth=2, num_heads=2),
                     patch_size=P, max_img_size=64, num_cls_tokens=2, num_registers=2,
                     feature_normalizer=True),
        teachers=dict(clip=dict(type='Unused'), sam=dict(type='Unused')),
        teacher_dims=dict(clip=[24], sam=[16]), build_teachers=False,
        teacher_options=dict(clip=dict(summary_channels=20, adaptor=dict(hidden_channels=40)),
                             sam=dict(summary_channels=12, summary_slot=1, adaptor=dict(
                                 hidden_channels=36, upsample_factor=2))),
        data_preprocessor=dict(type='BaseDataPreprocessor')))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        q, _ = torch.linalg.qr(torch.randn(C, C))
        model.student.feature_normalizer.set_stats(dict(mean=torch.randn(C), tx=2 * q))
    return model.eval()


def _official_layout(model) -> dict:
    """The same weights under the release keys (base_model., _heads., ...)."""
    sd = {}
    for k, v in model.student.state_dict().items():
        if k == 'patch_generator.proj.weight':
            sd['base_model.patch_generator.embedder.weight'] = v.reshape(C, -1)
        elif k == 'patch_generator.cls_token':
            sd['base_model.patch_generator.cls_token.token'] = v
        elif k.startswith('feature_normalizer.'):
            if not k.endswith('tx_inv'):
                sd['_feature_normalizer.' + k.split('.')[1]] = v
        else:
            sd['base_model.' + k] = v
    for name, idx in (('clip', 0), ('sam', 1)):
        head = model.adaptors[name]
        for k, v in head.summary_mlp.state_dict().items():
            sd[f'_heads.{idx}.{k}'] = v  # by index, as older releases
        for k, v in head.feature_mlp.state_dict().items():
            sd[f'_feature_projections.{name}.{k}'] = v  # by name
    sd['input_conditioner.norm_mean'] = torch.tensor(OPENAI_MEAN).view(3, 1, 1)
    sd['input_conditioner.norm_std'] = torch.tensor([0.2, 0.25, 0.3]).view(3, 1, 1)
    args = argparse.Namespace(
        model='vit_tiny_patch16_224', cls_token_per_teacher=True,
        teachers=[dict(name='clip'), dict(name='sam', fd_upsample_factor=2, use_summary=False)])
    return dict(args=args, state_dict={k: v.half() for k, v in sd.items()})


def test_roundtrip_through_official_layout(tmp_path):
    ref = _reference_model()
    src = tmp_path / 'radio_official.pth.tar'
    torch.save(_official_layout(ref), src)
    out = convert_radio_official(load_radio_official(str(src)))  # weights_only, Namespace args
    written = convert_radio_official_file(str(src), str(tmp_path / 'sakbox.pth'))
    assert written['meta'] == out['meta']
    assert torch.load(tmp_path / 'sakbox.pth', weights_only=True)['state_dict'].keys() == \
        out['state_dict'].keys()
    cfg = out['meta']['radio_config']
    assert cfg['student']['num_cls_tokens'] == 2 and cfg['student']['num_registers'] == 2
    assert cfg['student']['arch']['embed_dim'] == C and cfg['student']['arch']['depth'] == 2
    # SAM: use_summary=False in the release args -> no summary target, its head dropped
    assert cfg['teachers']['sam']['summary'] is False
    assert not any(k.startswith('adaptors.sam.summary_mlp') for k in out['state_dict'])
    assert cfg['teachers']['clip']['summary_slot'] == 0
    assert cfg['backbone_summary_slots'] == [0]  # official summary_idxs
    assert cfg['teachers']['sam']['adaptor']['upsample_factor'] == 2
    assert cfg['teachers']['sam']['feature_channels'] == 16
    # the fp16 statistics of a *_half release, scaled in float64 (what the official
    # model normalises with), not rounded again in fp16 (122.75 / 116.75 / 104.06)
    mean = cfg['data_preprocessor']['mean']
    ref_mean = (torch.tensor(OPENAI_MEAN).half().double() * 255).tolist()
    assert mean == pytest.approx(ref_mean, abs=1e-5)
    assert mean == pytest.approx([122.7686, 116.7297, 104.0918], abs=1e-4)
    torch.testing.assert_close(torch.tensor(cfg['data_preprocessor']['std']),
                               torch.tensor([51.0, 63.75, 76.5]), atol=0.1, rtol=0)
    assert not cfg['student']['final_norm']  # official: Identity unless args.model_norm
    fragment = radio_config_fragment(cfg)
    assert fragment['data_preprocessor'] == dict(type='MultiTaskDataPreProcessor',
                                                 **cfg['data_preprocessor'])
    student = dict(fragment['student'], arch=dict(cfg['student']['arch'], num_heads=2))
    model = MODELS.build(dict(
        type='RADIODistiller', student=student,
        teachers=dict(clip=dict(type='Unused'), sam=dict(type='Unused')),
        teacher_dims=fragment['teacher_dims'], teacher_options=fragment['teacher_options'],
        backbone_summary_slots=fragment['backbone_summary_slots'],
        build_teachers=False, data_preprocessor=dict(type='BaseDataPreprocessor')))
    model.load_state_dict(out['state_dict'], strict=True)
    model.eval()
    x = torch.randn(2, 3, 24, 40)
    a, b = ref.extract_feat(x), model.extract_feat(x)
    # fp16 storage in the fixture: compare at half precision
    torch.testing.assert_close(b['features'], a['features'], atol=0.05, rtol=0.02)
    torch.testing.assert_close(model.backbone_summary(b['summary']), a['summary'][:, 0],
                               atol=0.05, rtol=0.02)
    for name, kinds in (('clip', ('summary', 'features')), ('sam', ('features', ))):
        assert set(b['adaptors'][name]) == set(kinds)
        for kind in kinds:
            torch.testing.assert_close(b['adaptors'][name][kind], a['adaptors'][name][kind],
                                       atol=0.05, rtol=0.02)


def test_final_norm_follows_model_norm_and_slots_beyond_the_token_count():
    release = _official_layout(_reference_model())
    sd = dict(release['state_dict'])
    sd['base_model.norm.weight'] = torch.ones(C).half()
    sd['base_model.norm.bias'] = torch.zeros(C).half()
    args = release['args']
    out = convert_radio_official(dict(args=args, state_dict=sd))
    assert not out['meta']['radio_config']['student']['final_norm']
    assert 'student.norm.weight' not in out['state_dict']
    args_norm = argparse.Namespace(**vars(args), model_norm=True)
    out = convert_radio_official(dict(args=args_norm, state_dict=sd))
    assert out['meta']['radio_config']['student']['final_norm']
    assert 'student.norm.weight' in out['state_dict']
    # a token_slot past the per-teacher tokens (official reads it from the registers)
    args_slot = argparse.Namespace(**{**vars(args), 'teachers': [
        dict(name='clip', token_slot=3), dict(name='sam', fd_upsample_factor=2,
                                              use_summary=False)]})
    cfg = convert_radio_official(dict(args=args_slot, state_dict=sd))['meta']['radio_config']
    assert cfg['teachers']['clip']['summary_slot'] == 3
    assert cfg['student']['num_cls_tokens'] == 4 and cfg['student']['num_registers'] == 0


def test_spectral_reparametrisation_is_realised():
    torch.manual_seed(0)
    w = torch.randn(6, 4)
    u, v = F.normalize(torch.randn(6), dim=0), F.normalize(torch.randn(4), dim=0)
    scale = torch.tensor([[0.7]])
    sd = {'lin.parametrizations.weight.original': w, 'lin.bias': torch.zeros(6),
          'lin.parametrizations.weight.0._u': u, 'lin.parametrizations.weight.0._v': v,
          'lin.parametrizations.weight.0.scale': scale,
          'lin.parametrizations.weight.0._sn_version': torch.tensor(2)}
    out = realize_parametrizations(sd, eps=1e-6, power_iterations=1)
    assert set(out) == {'lin.weight', 'lin.bias'}
    u1 = F.normalize(w.double() @ v.double(), dim=0)
    v1 = F.normalize(w.double().T @ u1, dim=0)
    sigma = u1 @ w.double() @ v1 + 1e-6
    ref = w.double() * (F.softplus(torch.tensor(0.7, dtype=torch.float64)) + 0.05) / sigma
    torch.testing.assert_close(out['lin.weight'].double(), ref, rtol=1e-5, atol=1e-6)
    # chunked qkv: the value part (index 2) is left as is when it has no re-weighting
    qkv = torch.randn(6, 4)
    sd = {'attn.qkv.parametrizations.weight.original': qkv}
    for j in range(2):
        sd.update({f'attn.qkv.parametrizations.weight.0.parts.{j}._u': F.normalize(
            torch.randn(2), dim=0), f'attn.qkv.parametrizations.weight.0.parts.{j}._v':
            F.normalize(torch.randn(4), dim=0),
            f'attn.qkv.parametrizations.weight.0.parts.{j}.scale': torch.tensor([[1.0]])})
    out = realize_parametrizations(sd)
    torch.testing.assert_close(out['attn.qkv.weight'][4:], qkv[4:])
    assert not torch.allclose(out['attn.qkv.weight'][:2], qkv[:2])


def test_unsupported_layouts():
    eradio = {'base_model.patch_embed.conv_down.0.weight': torch.zeros(1),
              'base_model.levels.0.blocks.0.conv1.weight': torch.zeros(1),
              '_heads.clip.fc1.weight': torch.zeros(1)}
    for args in (argparse.Namespace(model='eradio', teachers=[dict(name='clip')]),
                 argparse.Namespace(teachers=[dict(name='clip')])):
        with pytest.raises(NotImplementedError, match='E-RADIO checkpoint.*cannot be mapped'):
            convert_radio_official(dict(args=args, state_dict=eradio))
    with pytest.raises(KeyError, match='not a ViT RADIO release: base_model.patch_generator'):
        convert_radio_official(dict(args=argparse.Namespace(model='my_net'),
                          state_dict={'base_model.stem.weight': torch.zeros(1)}))
    with pytest.raises(NotImplementedError, match='DINOv2-wrapper'):
        convert_radio_backbone({'inner.blocks.0.x': torch.zeros(1)}, argparse.Namespace(), 2)
    with pytest.raises(KeyError, match="no adaptor heads for teacher 'dino'"):
        convert_radio_official(dict(args=argparse.Namespace(teachers=[dict(name='clip'), dict(name='sam'),
                                                            dict(name='dino')]),
                          state_dict=_official_layout(_reference_model())['state_dict']),
                     teachers=['dino'], num_heads=2)
