"""TimmViTTeacher: shapes for ViT/DINOv2/CLIP ports, weights from local files."""
import pytest
import timm
import torch

from sakbox.models.teachers import TimmViTTeacher
from sakbox.utils import CheckpointMismatchError

TINY = dict(depth=4, embed_dim=32, num_heads=2)


@pytest.mark.parametrize('arch, img_size, in_hw, grid', [
    ('vit_base_patch16_384', 32, (32, 48), (2, 3)),  # dynamic size: pos-embed resampled
    ('vit_base_patch14_dinov2', 56, (56, 70), (4, 5)),
    ('vit_base_patch14_dinov2', 56, (60, 64), (4, 4)),  # remainder dropped (official)
    ('vit_base_patch16_clip_384', 32, (32, 32), (2, 2)),
    ('vit_small_patch14_reg4_dinov2', 28, (28, 28), (2, 2)),  # register tokens dropped
])
def test_shapes(arch, img_size, in_hw, grid):
    t = TimmViTTeacher(arch, img_size=img_size, model_kwargs=TINY)
    assert t.out_indices == [0, 1, 2, 3] and t.embed_dims == [32] * 4
    feats = t(torch.randn(2, 3, *in_hw))
    assert [tuple(f.shape) for f in feats] == [(2, 32, *grid)] * 4


def test_prunes_and_matches_forward_intermediates():
    t = TimmViTTeacher('vit_base_patch16_384', img_size=32, out_indices=[0, 2],
                       model_kwargs=TINY)
    assert len(t.model.blocks) == 3  # blocks after the last output are pruned
    assert isinstance(t.model.norm, torch.nn.Identity)
    x = torch.randn(1, 3, 32, 32)
    ref = t.model.forward_intermediates(t.convert_input(x), indices=[0, 2],
                                        intermediates_only=True)
    for a, b in zip(t(x), ref):
        torch.testing.assert_close(a, b)


def test_samvit_is_redirected():
    with pytest.raises(ValueError, match='SAMTeacher'):
        TimmViTTeacher('samvit_base_patch16')


def _reference(arch, **kwargs):
    torch.manual_seed(0)
    return timm.create_model(arch, img_size=32, **TINY, **kwargs).eval()


@pytest.mark.parametrize('ext', ['.pth', '.safetensors'])
def test_checkpoint_loads_and_matches_reference(tmp_path, ext):
    ref = _reference('vit_base_patch16_384', num_classes=10)  # head is ignored
    path = str(tmp_path / f'vit{ext}')
    if ext == '.safetensors':
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, path)
    else:
        torch.save({'state_dict': {f'module.{k}': v for k, v in ref.state_dict().items()}},
                   path)
    t = TimmViTTeacher('vit_base_patch16_384', img_size=32, checkpoint=path,
                       pretrained=True, model_kwargs=TINY)  # the file wins: no hub call
    x = torch.randn(1, 3, 32, 32)
    expected = ref.forward_intermediates(t.convert_input(x), indices=t.out_indices,
                                         intermediates_only=True)
    for a, b in zip(t(x), expected):
        torch.testing.assert_close(a, b)


def test_official_dinov2_format(tmp_path):
    ref = _reference('vit_base_patch14_dinov2')
    sd = dict(ref.state_dict())
    sd['mask_token'] = torch.zeros(1, 32)  # official DINOv2 key, dropped by timm's filter
    path = str(tmp_path / 'dinov2.pth')
    torch.save(sd, path)
    t = TimmViTTeacher('vit_base_patch14_dinov2', img_size=32, checkpoint=path,
                       model_kwargs=TINY)
    torch.testing.assert_close(t.model.pos_embed, ref.pos_embed)


def test_checkpoint_mismatch_names_keys_and_file(tmp_path):
    sd = dict(_reference('vit_base_patch16_384').state_dict())
    sd.pop('blocks.1.attn.qkv.weight')
    sd['blocks.9.extra'] = torch.zeros(1)
    path = str(tmp_path / 'broken.pth')
    torch.save(sd, path)
    with pytest.raises(CheckpointMismatchError) as err:
        TimmViTTeacher('vit_base_patch16_384', img_size=32, checkpoint=path, model_kwargs=TINY)
    msg = str(err.value)
    assert 'broken.pth' in msg and 'blocks.1.attn.qkv.weight' in msg and 'blocks.9.extra' in msg


@pytest.mark.parametrize('final_norm', [False, True])
def test_dinov2_normed_tokens_as_the_official_radio_wrapper(tmp_path, final_norm):
    """with_summary: x_norm_clstoken; final_norm: x_norm_patchtokens (official DinoWrapper)."""
    arch = 'vit_small_patch14_reg4_dinov2'
    torch.manual_seed(0)
    ref = timm.create_model(arch, img_size=28, num_classes=0, dynamic_img_size=True,
                            **TINY).eval()
    with torch.no_grad():  # a non-trivial final norm
        ref.norm.weight.add_(torch.randn(32) * 0.3)
        ref.norm.bias.add_(torch.randn(32) * 0.3)
    path = str(tmp_path / 'dinov2.pth')
    torch.save(ref.state_dict(), path)
    t = TimmViTTeacher(arch, img_size=28, checkpoint=path, model_kwargs=TINY,
                       final_norm=final_norm, with_summary=True)
    assert t.summary_dim == 32
    x = torch.randn(2, 3, 42, 28)
    feats, summary = t.forward_with_summary(x)
    with torch.no_grad():
        tokens = ref.forward_features(t.preprocess(t.convert_input(x)))  # normed
    x_norm_clstoken = tokens[:, 0]
    x_norm_patchtokens = tokens[:, ref.num_prefix_tokens:].transpose(1, 2).reshape(2, 32, 3, 2)
    torch.testing.assert_close(summary, x_norm_clstoken)
    if final_norm:
        torch.testing.assert_close(feats[-1], x_norm_patchtokens)
    else:
        assert not torch.allclose(feats[-1], x_norm_patchtokens, atol=1e-3)
    for a, b in zip(feats, t(x)):  # the same levels as the plain forward
        torch.testing.assert_close(a, b)


def test_sak_default_is_unchanged_and_summary_needs_the_option():
    t = TimmViTTeacher('vit_small_patch14_dinov2', img_size=28, model_kwargs=TINY)
    assert isinstance(t.model.norm, torch.nn.Identity) and t.summary_dim is None
    with pytest.raises(RuntimeError, match='with_summary=True'):
        t.forward_with_summary(torch.randn(1, 3, 28, 28))
    with pytest.raises(ValueError, match='needs a class token'):
        TimmViTTeacher('vit_base_patch16_384', img_size=32, with_summary=True,
                       model_kwargs=dict(TINY, class_token=False, global_pool='avg'))
