"""MultiTeacherDistiller (stage 1) on stand-ins, and stage-1 -> stage-2 initialisation."""
import pytest
import torch
from mmengine.runner import load_checkpoint, save_checkpoint

from sakbox.registry import MODELS

from .stubs import distiller_cfg, make_batch, stage1_cfg


def test_stage1_loss_predict_tensor():
    model = MODELS.build(stage1_cfg())
    assert model.student.tasks is None
    inputs, _ = make_batch()
    losses = model(inputs, mode='loss')
    assert set(losses) == {f'loss_distill_{t}_l{i}' for t in ('t1', 't2') for i in range(2)}
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.student.paths.parameters())
    assert all(p.grad is None for p in model.teachers.parameters())
    feats = model(inputs, mode='tensor')
    assert set(feats) == {'t1', 't2'} and feats['t1'][0].shape == (2, 8, 4, 6)
    out = model(inputs, mode='predict')
    assert set(out[0].distill_cos) == {'t1/l0', 't1/l1', 't2/l0', 't2/l1'}
    assert all(-1 <= v <= 1 for v in out[0].distill_cos.values())
    with pytest.raises(ValueError, match='at least one teacher'):
        MODELS.build(stage1_cfg(teachers={}))


def test_stage2_initialises_from_stage1_checkpoint(tmp_path):
    s1 = MODELS.build(stage1_cfg())
    path = str(tmp_path / 's1.pth')
    save_checkpoint(s1.state_dict(), path)
    # via init_cfg (what `init_cfg=dict(type='Pretrained', checkpoint=...)` does)
    s2 = MODELS.build(distiller_cfg(init_cfg=dict(type='Pretrained', checkpoint=path)))
    s2.init_weights()
    for k, v in s1.student.state_dict().items():
        assert torch.equal(s2.student.state_dict()[k], v), k
    # via load_checkpoint (what `load_from` does): heads/routers stay, stem matches
    s2b = MODELS.build(distiller_cfg())
    load_checkpoint(s2b, path, strict=False)
    assert torch.equal(s2b.student.patch_embed.weight, s1.student.patch_embed.weight)
