"""Tests of the RADIO ViT student: any-resolution output, CPE crops, summary tokens."""
import pytest
import torch
import torch.nn.functional as F

from sakbox.models.students.radio_vit import CPEPatchGenerator, RADIOViT
from sakbox.registry import MODELS

TINY = dict(embed_dim=32, depth=4, num_heads=2)


def _model(**kwargs) -> RADIOViT:
    torch.manual_seed(0)
    cfg = dict(arch=TINY, patch_size=8, max_img_size=64, num_cls_tokens=3)
    cfg.update(kwargs)
    return RADIOViT(**cfg)


@pytest.mark.parametrize('size', [(32, 32), (48, 64), (64, 40), (96, 96), (8, 120)])
def test_any_resolution_shapes(size):
    model = _model(num_registers=2).eval()
    out = model(torch.randn(2, 3, *size))
    h, w = size[0] // 8, size[1] // 8
    assert out['summary'].shape == (2, 3, 32)
    assert out['features'].shape == (2, 32, h, w)
    assert len(out['levels']) == 4
    assert all(lvl.shape == (2, 32, h, w) for lvl in out['levels'])


def test_registry_nlc_and_bad_size():
    model = MODELS.build(dict(type='RADIOViT', arch=TINY, patch_size=8, max_img_size=64,
                              output_fmt='NLC'))
    out = model.eval()(torch.randn(1, 3, 24, 40))
    assert out['features'].shape == (1, 15, 32)
    with pytest.raises(ValueError, match='multiples of the patch size 8'):
        model(torch.randn(1, 3, 30, 40))
    with pytest.raises(KeyError, match='unknown arch'):
        RADIOViT(arch='enormous')


@pytest.mark.parametrize('num_cls, num_registers', [(3, 5), (2, 6), (4, 4), (8, 8), (1, 7)])
def test_register_multiple_follows_the_official_rule(num_cls, num_registers):
    # official ClsToken: register_multiple - num_tokens % register_multiple (8 -> 8 more)
    model = _model(num_cls_tokens=num_cls, register_multiple=8)
    assert model.num_cls_tokens == num_cls
    assert model.patch_generator.num_registers == num_registers
    assert model.patch_generator.cls_token.shape == (num_cls + num_registers, 32)
    assert _model(num_cls_tokens=num_cls, register_multiple=8,
                  num_registers=3).patch_generator.num_registers == 3  # explicit count wins


def test_inference_pos_embed_is_resized_window():
    """Eval: the grid is resized to the long side and the top-left window is used."""
    gen = _model().patch_generator.eval()
    grid = gen.pos_embed.reshape(1, 8, 8, 32).permute(0, 3, 1, 2)
    pos = gen.get_pos_embed(1, (4, 6))
    ref = F.interpolate(grid, size=(6, 6), mode='bilinear', align_corners=False)[..., :4, :6]
    torch.testing.assert_close(pos, ref.flatten(2).transpose(1, 2))
    # the full grid is used as is
    assert gen.get_pos_embed(1, (8, 8)) is gen.pos_embed


def test_cpe_training_crops_differ_per_sample_and_lie_inside_grid():
    gen = CPEPatchGenerator(8, 4, max_img_size=64, num_cls_tokens=1).train()
    # A linear ramp grid: crops of it must stay within its value range.
    ramp = torch.linspace(0, 1, 8)
    grid = torch.stack([ramp[:, None].expand(8, 8), ramp[None].expand(8, 8)] * 2)  # (4, 8, 8)
    with torch.no_grad():
        gen.pos_embed.copy_(grid.flatten(1).T[None])
    torch.manual_seed(0)
    pos = gen.get_pos_embed(6, (3, 5))
    assert pos.shape == (6, 15, 4)
    assert not torch.allclose(pos[0], pos[1])  # a different crop for every sample
    assert pos.min() >= -1e-6 and pos.max() <= 1 + 1e-6
    rows = pos[..., 0].reshape(6, 3, 5)
    cols = pos[..., 1].reshape(6, 3, 5)
    # rows increase downwards, columns to the right (no flips), crops are proper sub-windows
    assert (rows[:, 1:] >= rows[:, :-1] - 1e-6).all() and (cols[..., 1:] >= cols[..., :-1] - 1e-6).all()
    area = (rows[:, -1, 0] - rows[:, 0, 0]) * (cols[:, 0, -1] - cols[:, 0, 0])
    assert (area <= 1 + 1e-6).all() and (area > 0).all()


def test_cpe_train_vs_eval_and_no_cpe():
    model = _model()
    x = torch.randn(2, 3, 32, 48)
    torch.manual_seed(1)
    a = model.train()(x)['features']
    torch.manual_seed(2)
    b = model.train()(x)['features']
    assert not torch.allclose(a, b)  # random crops in training
    e1, e2 = model.eval()(x)['features'], model(x)['features']
    torch.testing.assert_close(e1, e2)  # deterministic in eval
    plain = _model(cpe=False).train()
    torch.testing.assert_close(plain(x)['features'], plain(x)['features'])


def test_forward_intermediates_matches_forward():
    model = _model(final_norm=True).eval()
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    final, inter = model.forward_intermediates(x, return_prefix_tokens=True)
    assert len(inter) == 4
    for lvl, (summ, feat) in zip(out['levels'], inter):
        torch.testing.assert_close(lvl, feat)
        assert summ.shape == (2, 3, 32)
    torch.testing.assert_close(final[:, :3], out['summary'])
    only = model.forward_intermediates(x, indices=2, intermediates_only=True, output_fmt='NLC',
                                       norm=True, stop_early=True)
    assert [t.shape for t in only] == [(2, 16, 32)] * 2


def test_gradients_reach_tokens_and_pos_embed():
    model = _model().train()
    out = model(torch.randn(2, 3, 32, 32))
    (out['summary'].sum() + out['features'].sum()).backward()
    gen = model.patch_generator
    assert gen.pos_embed.grad.abs().sum() > 0 and gen.cls_token.grad.abs().sum() > 0


def test_frozen_multitask_backbone():
    model = _model(frozen=True, tasks=['semseg', 'depth'])
    model.train()
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    out = model(torch.randn(1, 3, 32, 32))
    assert set(out['task_feats']) == {'semseg', 'depth'}
    assert len(out['task_feats']['semseg']) == 4 and not out['features'].requires_grad


def test_feature_normalizer_applies_to_features_only():
    model = _model(feature_normalizer=True).eval()
    x = torch.randn(1, 3, 16, 24)
    plain = model(x)
    mean, tx = torch.randn(32), torch.randn(32, 32)
    model.feature_normalizer.set_stats(dict(mean=mean, tx=tx))
    out = model(x)
    ref = torch.einsum('dc,bchw->bdhw', tx, plain['features'] - mean.view(1, -1, 1, 1))
    torch.testing.assert_close(out['features'], ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out['levels'][-1], plain['levels'][-1])
    torch.testing.assert_close(out['summary'], plain['summary'])
