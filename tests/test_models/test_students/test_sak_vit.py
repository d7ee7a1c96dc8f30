"""SAKViT: outputs, adapter-path recurrence, aligners, routers, freezing, sizes."""
import pytest
import torch
import torch.nn.functional as F

from sakbox.registry import MODELS

TINY = dict(depth=4, embed_dim=32, num_heads=2)


def build(**kwargs):
    cfg = dict(type='SAKViT', teacher_dims=dict(dino=32, sam=48), arch='vit_base_patch16_384',
               img_size=32, model_kwargs=TINY)
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


@pytest.mark.parametrize('tasks, router, has_weights, weight_shape', [
    (None, dict(type='MoRRouter'), False, None),
    (['semseg', 'depth'], dict(type='MoRRouter', noisy_gating=True), True, (2, 3)),
    (['semseg'], dict(type='SpatialMoRRouter'), True, (2, 3, 2, 3)),
    (['semseg'], dict(type='SumRouter'), True, (2, 3)),
    (['semseg', 'depth'], None, False, None),
])
def test_output_structure(tasks, router, has_weights, weight_shape):
    stem = build(tasks=tasks, router=router)
    assert stem.embed_dim == 32 and stem.out_indices == [0, 1, 2, 3]
    assert stem.teacher_names == ['dino', 'sam'] and stem.tasks == tasks
    assert stem.embed_dims == [32] * 4 and stem.num_levels == 4
    out = stem(torch.randn(2, 3, 32, 48))
    assert [tuple(f.shape) for f in out['distill']['dino']] == [(2, 32, 2, 3)] * 4
    assert [tuple(f.shape) for f in out['distill']['sam']] == [(2, 48, 2, 3)] * 4
    assert [tuple(f.shape) for f in out['stem_feats']] == [(2, 32, 2, 3)] * 4
    assert ('task_feats' in out) == (tasks is not None)
    assert ('router_weights' in out) == has_weights
    if tasks is not None:
        assert list(out['task_feats']) == tasks
        for feats in out['task_feats'].values():
            assert [tuple(f.shape) for f in feats] == [(2, 32, 2, 3)] * 4
    if has_weights:
        assert sorted(out['router_weights']) == sorted(
            f'{t}.level{i}' for t in tasks for i in range(4))
        assert all(w.shape == weight_shape for w in out['router_weights'].values())


def test_matches_hand_written_reference():
    stem = build(tasks=['semseg'], aligner=True).eval()
    x = torch.randn(2, 3, 32, 32)
    out = stem(x)
    vit = stem.vit
    t = vit.norm_pre(vit._pos_embed(vit.patch_embed(x)))
    res = {n: stem.paths[n].adapters[0](t) for n in ('dino', 'sam')}
    level = 0
    for i, blk in enumerate(vit.blocks):
        t = blk(t)
        experts = [t[:, 1:]]
        for n in ('dino', 'sam'):
            a = stem.paths[n].adapters[i + 1]
            z = res[n] + t
            res[n] = z + a.scale * a.up(F.gelu(a.down(z)))
            normed = F.layer_norm(res[n][:, 1:], (32, ), stem.out_norms[n][level].weight,
                                  stem.out_norms[n][level].bias)
            aligned = stem.aligners[n][level](normed)
            torch.testing.assert_close(out['distill'][n][level],
                                       aligned.reshape(2, 2, 2, -1).permute(0, 3, 1, 2))
            experts.append(normed)
        router = stem.routers['semseg'][level]
        logits = router.mlp(t[:, 1:]).mean(1)[:, :3]
        w = logits.softmax(1)
        mixed = sum(w[:, e, None, None] * experts[e] for e in range(3))
        torch.testing.assert_close(out['task_feats']['semseg'][level],
                                   mixed.reshape(2, 2, 2, -1).permute(0, 3, 1, 2))
        level += 1
    # The stem's own tokens are those of timm's ViT without the final norm.
    ref = vit.forward_intermediates(x, indices=stem.out_indices, intermediates_only=True)
    for a, b in zip(out['stem_feats'], ref):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('aligner, dims, expected', [
    ('auto', dict(a=32, b=48), dict(a='Identity', b='Linear')),
    ('auto', dict(a=[32, 64, 32, 16]), dict(a=['Identity', 'Linear', 'Identity', 'Linear'])),
    (True, dict(a=32, b=48), dict(a='Linear', b='Linear')),
    (False, dict(a=32), dict(a='Identity')),
])
def test_aligner_modes(aligner, dims, expected):
    stem = build(teacher_dims=dims, aligner=aligner)
    for name, kinds in expected.items():
        kinds = [kinds] * 4 if isinstance(kinds, str) else kinds
        assert [type(m).__name__ for m in stem.aligners[name]] == kinds
        out = stem(torch.randn(1, 3, 32, 32))['distill'][name]
        want = dims[name] if isinstance(dims[name], list) else [dims[name]] * 4
        assert [f.shape[1] for f in out] == want
    lin = stem.aligners[next(iter(dims))]
    for m in lin:
        if isinstance(m, torch.nn.Linear):
            assert (m.bias == 0).all() and 0.01 < m.weight.std() < 0.03


def test_aligner_mismatch_error():
    with pytest.raises(ValueError, match=r"Teacher 'sam' level 0 has 48 channels.*32"):
        build(aligner=False)
    with pytest.raises(ValueError, match='one positive width or 4'):
        build(teacher_dims=dict(a=[32, 32]))
    with pytest.raises(ValueError, match="without '.'"):
        build(teacher_dims={'a.b': 32})
    with pytest.raises(ValueError, match='patch_drop_rate must be 0'):
        build(model_kwargs=dict(TINY, patch_drop_rate=0.5))
    with pytest.raises(ValueError, match="aligner must be 'auto'"):
        build(aligner='yes')


def _trainable(stem):
    return {n for n, p in stem.named_parameters() if p.requires_grad}


def test_freeze_options():
    all_names = {n for n, _ in build(tasks=['semseg']).named_parameters()}
    assert _trainable(build(tasks=['semseg'])) == all_names
    frozen_stem = _trainable(build(tasks=['semseg'], freeze_stem=True))
    assert frozen_stem == {n for n in all_names if not n.startswith('vit.')}
    only_routers = _trainable(build(tasks=['semseg'], freeze_all_but_routers=True))
    assert only_routers == {n for n in all_names if n.startswith('routers.')} != set()


def test_gradient_flow():
    stem = build(tasks=['semseg', 'depth']).train()
    out = stem(torch.randn(2, 3, 32, 32))
    sum(f.sum() for f in out['distill']['sam']).backward()
    grads = {n: p.grad for n, p in stem.named_parameters()}
    for prefix in ('paths.sam.', 'out_norms.sam.', 'aligners.sam.', 'vit.blocks.0.'):
        assert any(g is not None and g.abs().sum() > 0
                   for n, g in grads.items() if n.startswith(prefix)), prefix
    for prefix in ('paths.dino.', 'out_norms.dino.', 'routers.'):
        assert all(g is None for n, g in grads.items() if n.startswith(prefix)), prefix

    stem.zero_grad(set_to_none=True)
    out = stem(torch.randn(2, 3, 32, 32))
    out['task_feats']['semseg'][-1].square().sum().backward()
    grads = {n: p.grad for n, p in stem.named_parameters()}
    for prefix in ('routers.semseg.3.', 'paths.dino.', 'paths.sam.', 'out_norms.dino.3'):
        assert any(g is not None and g.abs().sum() > 0
                   for n, g in grads.items() if n.startswith(prefix)), prefix
    # Routers mix the normed paths before the aligners; other tasks/levels untouched.
    for prefix in ('routers.depth.', 'routers.semseg.0.', 'aligners.'):
        assert all(g is None for n, g in grads.items() if n.startswith(prefix)), prefix


def test_router_gating_train_vs_eval():
    stem = build(tasks=['semseg'])
    x = torch.randn(2, 3, 32, 32)
    stem.eval()
    w1, w2 = stem(x)['router_weights'], stem(x)['router_weights']
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    for w in w1.values():
        torch.testing.assert_close(w.sum(1), torch.ones(2))
    stem.train()
    w3, w4 = stem(x)['router_weights'], stem(x)['router_weights']
    assert not torch.allclose(w3['semseg.level0'], w4['semseg.level0'])
    assert stem.routers['semseg'][0].last_weights.shape == (2, 3)


def test_no_router_is_the_official_sum():
    dims = dict(dino=32, sam=32)  # no aligners: the distill outputs are the normed paths
    stem = build(teacher_dims=dims, tasks=['semseg', 'depth'], router=None).eval()
    summed = build(teacher_dims=dims, tasks=['semseg', 'depth'],
                   router=dict(type='SumRouter')).eval()
    summed.load_state_dict(stem.state_dict())
    x = torch.randn(1, 3, 32, 32)
    out, out_sum = stem(x), summed(x)
    assert 'router_weights' not in out
    for lvl in range(4):
        expected = out['stem_feats'][lvl] + out['distill']['dino'][lvl] + out['distill'][
            'sam'][lvl]
        torch.testing.assert_close(out['task_feats']['semseg'][lvl], expected)
        assert out['task_feats']['depth'][lvl] is out['task_feats']['semseg'][lvl]
        torch.testing.assert_close(out_sum['task_feats']['depth'][lvl], expected)
    assert all(torch.equal(w, torch.ones(1, 3)) for w in out_sum['router_weights'].values())


def test_grad_checkpointing_is_identical():
    x = torch.randn(2, 3, 32, 32)
    results = []
    for ckpt in (False, True):
        stem = build(tasks=['semseg'], grad_checkpointing=ckpt,
                     model_kwargs=dict(TINY, drop_path_rate=0.1)).train()
        torch.manual_seed(1)
        out = stem(x)
        loss = sum(f.sum() for f in out['distill']['sam']) + out['task_feats']['semseg'][2].sum()
        loss.backward()
        results.append((out, {n: p.grad.clone() for n, p in stem.named_parameters()
                              if p.grad is not None}))
    (o1, g1), (o2, g2) = results
    for a, b in zip(o1['distill']['sam'] + o1['task_feats']['semseg'],
                    o2['distill']['sam'] + o2['task_feats']['semseg']):
        assert torch.equal(a, b)
    assert g1.keys() == g2.keys()
    for n in g1:
        torch.testing.assert_close(g1[n], g2[n], rtol=1e-5, atol=1e-6)


def test_non_divisible_input_is_zero_padded():
    stem = build(tasks=['semseg']).eval()
    x = torch.randn(1, 3, 30, 45)
    out = stem(x)
    assert out['distill']['sam'][0].shape == (1, 48, 2, 3)
    ref = stem(F.pad(x, (0, 3, 0, 2)))
    for a, b in zip(out['task_feats']['semseg'], ref['task_feats']['semseg']):
        torch.testing.assert_close(a, b)


def test_dynamic_sizes():
    stem = build(img_size=(32, 48), tasks=['semseg'])
    stem.train()
    assert stem(torch.randn(1, 3, 32, 48))['stem_feats'][0].shape == (1, 32, 2, 3)
    stem.eval()
    with torch.no_grad():
        out = stem(torch.randn(1, 3, 64, 64))
    assert out['task_feats']['semseg'][3].shape == (1, 32, 4, 4)
    assert out['distill']['sam'][3].shape == (1, 48, 4, 4)
