"""Gradient checkpointing of the students: same loss and gradients, fewer saved activations."""
import pytest
import torch
import torch.nn as nn

from sakbox.registry import MODELS

SAK = dict(type='SAKViT', teacher_dims=dict(dino=32, sam=48), arch='vit_base_patch16_384',
           img_size=32, tasks=['semseg'], model_kwargs=dict(depth=4, embed_dim=32, num_heads=2,
                                                            drop_path_rate=0.1))
RADIO = dict(type='RADIOViT', arch=dict(embed_dim=32, depth=4, num_heads=2), patch_size=8,
             max_img_size=64, num_cls_tokens=2, drop_path_rate=0.1)
ERADIO = dict(type='ERADIO', dim=8, stem_dim=8, depths=(1, 2, 2, 1), num_heads=(2, 2),
              window_size=2, embed_dim=24, drop_path_rate=0.1)
#: stem config, name of its switch, a scalar of its outputs to back-propagate.
CASES = {
    'SAKViT': (SAK, 'grad_checkpointing',
               lambda o: sum(f.sum() for f in o['distill']['sam'])
               + sum(f.square().sum() for f in o['task_feats']['semseg'])),
    'RADIOViT': (RADIO, 'grad_checkpointing',
                 lambda o: o['summary'].square().sum() + o['features'].sum()),
    'ERADIO': (ERADIO, 'grad_checkpointing',
               lambda o: o['features'].square().sum() + sum(f.sum() for f in o['levels'])),
}


def build(cfg: dict, switch: str, enabled: bool) -> nn.Module:
    torch.manual_seed(0)
    return MODELS.build(dict(cfg, **{switch: enabled})).train()


def saved_activation_bytes(model: nn.Module, fn) -> int:
    """Bytes of the distinct non-parameter storages autograd keeps for backward."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(storages.values()), out


@pytest.mark.parametrize('name', sorted(CASES))
def test_checkpointing_gives_identical_loss_and_gradients(name):
    cfg, switch, reduce = CASES[name]
    x = torch.randn(2, 3, 32, 64)
    results = []
    for enabled in (False, True):
        model = build(cfg, switch, enabled)
        torch.manual_seed(1)  # drop path draws the same masks in both runs
        loss = reduce(model(x))
        loss.backward()
        grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
        results.append((loss.detach(), grads, {k: v.clone() for k, v in
                                               model.state_dict().items()}))
    (loss0, grads0, state0), (loss1, grads1, state1) = results
    assert torch.equal(loss0, loss1)
    assert grads0.keys() == grads1.keys() and len(grads0) > 0
    for n in grads0:
        torch.testing.assert_close(grads0[n], grads1[n], rtol=1e-5, atol=1e-6, msg=n)
    # BatchNorm statistics (ERADIO) are updated once per step, not again in the recompute.
    for k in state0:
        assert torch.equal(state0[k], state1[k]), k


@pytest.mark.parametrize('name', sorted(CASES))
def test_checkpointing_saves_fewer_activations(name):
    cfg, switch, reduce = CASES[name]
    x = torch.randn(2, 3, 64, 64)
    sizes = {}
    for enabled in (False, True):
        model = build(cfg, switch, enabled)
        sizes[enabled], out = saved_activation_bytes(model, lambda: model(x))
        reduce(out).backward()  # the recomputation works
        assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    # Outside the blocks (patch embedding, stem convs, necks, heads) nothing changes.
    assert sizes[True] < 0.7 * sizes[False], sizes


@pytest.mark.parametrize('name', sorted(CASES))
def test_set_grad_checkpointing_and_no_grad_runs(name):
    cfg, switch, _ = CASES[name]
    model = build(cfg, switch, False)
    model.set_grad_checkpointing(True)
    assert getattr(model, switch) is True
    with torch.no_grad():  # inference never checkpoints
        size, _ = saved_activation_bytes(model, lambda: model(torch.randn(2, 3, 32, 32)))
    assert size == 0


@pytest.mark.parametrize('name', ['RADIOViT', 'ERADIO'])
def test_old_with_cp_name_is_refused_naming_the_new_one(name):
    cfg, _, _ = CASES[name]
    with pytest.raises(TypeError, match="'with_cp' is now called 'grad_checkpointing'"):
        MODELS.build(dict(cfg, with_cp=True))
    with pytest.raises(TypeError, match='unexpected keyword arguments: not_an_arg'):
        MODELS.build(dict(cfg, not_an_arg=1))
