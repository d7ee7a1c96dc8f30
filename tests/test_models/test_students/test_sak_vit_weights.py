"""SAKViT weights: ViT checkpoints, stage-1 stem checkpoints, init_cfg, LoRA."""
import sys

import pytest
import timm
import torch

from sakbox.registry import MODELS
from sakbox.utils import CheckpointMismatchError

TINY = dict(depth=4, embed_dim=32, num_heads=2)


def build(**kwargs):
    cfg = dict(type='SAKViT', teacher_dims=dict(dino=32, sam=48), arch='vit_base_patch16_384',
               img_size=32, model_kwargs=TINY)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_vit_checkpoint(tmp_path):
    torch.manual_seed(0)
    ref = timm.create_model('vit_base_patch16_384', img_size=48, num_classes=5, **TINY)
    path = str(tmp_path / 'vit.pth')
    torch.save(ref.state_dict(), path)
    stem = build(vit_checkpoint=path, pretrained=True)  # file wins, no hub access
    # pos-embed resampled 3x3 -> 2x2 by timm's filter; the rest copied as is.
    assert stem.vit.pos_embed.shape == (1, 5, 32)
    torch.testing.assert_close(stem.vit.blocks[2].mlp.fc1.weight, ref.blocks[2].mlp.fc1.weight)


def _save_stage1(tmp_path, img_size=32):
    torch.manual_seed(0)
    stage1 = build(img_size=img_size)
    sd = {f'student.stem.{k}': v for k, v in stage1.state_dict().items()}
    path = str(tmp_path / 'stage1.pth')
    torch.save({'state_dict': sd, 'meta': {'epoch': 30}}, path)
    return stage1, path


def test_stage1_checkpoint_into_stage2_with_other_size(tmp_path):
    from timm.layers import resample_abs_pos_embed
    stage1, path = _save_stage1(tmp_path, img_size=32)
    stage2 = build(img_size=(32, 48), tasks=['semseg'], checkpoint=path)
    # Bicubic without antialiasing, as the official stage-1 -> stage-2 update.
    expected = resample_abs_pos_embed(stage1.vit.pos_embed, [2, 3], [2, 2],
                                      interpolation='bicubic', antialias=False)
    torch.testing.assert_close(stage2.vit.pos_embed, expected)
    for k, v in stage1.state_dict().items():
        if k != 'vit.pos_embed':
            assert torch.equal(stage2.state_dict()[k], v), k
    x = torch.randn(1, 3, 32, 48)
    stage1.eval(), stage2.eval()
    # stage 1 resamples on the fly (timm: bicubic with antialiasing), stage 2
    # was resampled at load time without antialiasing (official rule): the
    # features agree closely but not exactly.
    torch.testing.assert_close(stage1(x)['distill']['sam'][2], stage2(x)['distill']['sam'][2],
                               atol=2e-3, rtol=0)


def test_init_cfg_pretrained_and_init_weights_keeps_weights(tmp_path):
    stage1, path = _save_stage1(tmp_path)
    stem = build(tasks=['semseg'], init_cfg=dict(type='Pretrained', checkpoint=path,
                                                 prefix='student.stem.'))
    assert not torch.equal(stem.vit.pos_embed, stage1.vit.pos_embed)
    stem.init_weights()
    assert torch.equal(stem.vit.pos_embed, stage1.vit.pos_embed)
    plain = build()
    before = {k: v.clone() for k, v in plain.state_dict().items()}
    plain.init_weights()  # must not reach timm's own random init
    assert all(torch.equal(before[k], v) for k, v in plain.state_dict().items())


def test_stem_checkpoint_mismatch(tmp_path):
    _, path = _save_stage1(tmp_path)
    with pytest.raises(CheckpointMismatchError, match=r'stage1.pth.*unexpected keys: '
                                                      r'aligners.sam.0.bias'):
        build(teacher_dims=dict(dino=32, sam=32), checkpoint=path)
    with pytest.raises(ValueError, match='checkpoint_prefix'):
        torch.save({'a.vit.pos_embed': torch.zeros(1), 'b.vit.pos_embed': torch.zeros(1)},
                   path)
        build(checkpoint=path)


def test_lora_without_peft_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, 'peft', None)  # makes `import peft` fail
    with pytest.raises(ImportError, match='optional package peft'):
        build(lora=dict(r=4))


def test_lora_and_freeze_stem_are_exclusive():
    with pytest.raises(ValueError, match='exclusive'):
        build(lora=dict(r=4), freeze_stem=True)


@pytest.mark.parametrize('tasks', [None, ['semseg']])
def test_lora_with_peft(tasks):
    pytest.importorskip('peft')
    stem = build(tasks=tasks, lora=dict(r=4, lora_alpha=8))
    vit_trainable = {n for n, p in stem.named_parameters()
                     if p.requires_grad and n.startswith('vit.')}
    lora = {n for n in vit_trainable if 'lora_' in n}
    assert len(lora) == 2 * 4  # lora_A and lora_B on qkv of each block
    if tasks is None:
        assert vit_trainable == lora  # stage 1: only LoRA inside the ViT
    else:
        assert vit_trainable == {n for n, _ in stem.named_parameters() if n.startswith('vit.')}
    assert all(p.requires_grad for n, p in stem.named_parameters() if n.startswith('paths.'))
    out = stem(torch.randn(1, 3, 32, 32))
    sum(f.sum() for f in out['distill']['dino']).backward()
    assert stem.vit.blocks[0].attn.qkv.lora_A['default'].weight.grad is not None
