"""OpenCLIPTeacher: native and timm-trunk towers, local weights, cross-check with timm."""
import open_clip
import pytest
import torch

from sakbox.models.teachers import OpenCLIPTeacher, TimmViTTeacher
from sakbox.utils import CheckpointMismatchError

TEXT = dict(context_length=8, vocab_size=64, width=32, heads=2, layers=1)
NATIVE = dict(vision_cfg=dict(layers=4, width=32, head_width=16, patch_size=16),
              text_cfg=TEXT, embed_dim=16)
SIGLIP = dict(vision_cfg=dict(timm_model_name='test_vit', timm_model_pretrained=False,
                              timm_pool='map', timm_proj='none'),
              text_cfg=dict(TEXT, no_causal_mask=True, pool_type='last'), embed_dim=64)


@pytest.mark.parametrize('model_name, tag, kwargs, dims, mean01', [
    ('ViT-B-16', None, NATIVE, [32] * 4, 0.48145466),
    ('ViT-B-16', 'laion2b_s34b_b88k', NATIVE, [32] * 4, 0.48145466),
    ('ViT-B-16-SigLIP', 'webli', SIGLIP, [64] * 4, 0.5),  # SigLIP stats from the tag
])
def test_shapes_and_stats(model_name, tag, kwargs, dims, mean01):
    t = OpenCLIPTeacher(model_name, pretrained_tag=tag, img_size=32, model_kwargs=kwargs)
    assert t.embed_dims == dims and len(t.out_indices) == 4
    assert t.mean[0] == pytest.approx(mean01 * 255)
    feats = t(torch.randn(2, 3, 32, 32))
    assert [tuple(f.shape) for f in feats] == [(2, d, 2, 2) for d in dims]
    # Other input sizes are resized to the tower's fixed size.
    assert t(torch.randn(1, 3, 48, 40))[0].shape == (1, dims[0], 2, 2)


def test_pretrained_needs_a_tag():
    with pytest.raises(ValueError, match='pretrained_tag'):
        OpenCLIPTeacher('ViT-B-16', pretrained=True, model_kwargs=NATIVE)


def _tiny_clip():
    torch.manual_seed(0)
    kwargs = dict(NATIVE, vision_cfg=dict(NATIVE['vision_cfg'], image_size=32))
    return open_clip.create_model('ViT-B-16', pretrained=None, **kwargs).eval()


@pytest.mark.parametrize('visual_only', [False, True])
def test_checkpoint_full_or_visual(tmp_path, visual_only):
    clip = _tiny_clip()
    sd = clip.visual.state_dict() if visual_only else clip.state_dict()
    path = str(tmp_path / 'clip.pth')
    torch.save(sd, path)
    t = OpenCLIPTeacher('ViT-B-16', checkpoint=path, img_size=32, model_kwargs=NATIVE)
    x = torch.randn(1, 3, 32, 32)
    ref = clip.visual.forward_intermediates(t.convert_input(x), indices=t.out_indices,
                                            intermediates_only=True)['image_intermediates']
    for a, b in zip(t(x), ref):
        torch.testing.assert_close(a, b)


def test_checkpoint_pos_embed_resampled_and_mismatch(tmp_path):
    sd = _tiny_clip().state_dict()
    path = str(tmp_path / 'clip.pth')
    torch.save(sd, path)
    t = OpenCLIPTeacher('ViT-B-16', checkpoint=path, img_size=64, model_kwargs=NATIVE)
    assert t.visual.positional_embedding.shape == (1 + 16, 32)
    # The one resampler of sakbox, antialiased as timm's own CLIP filter.
    from sakbox.utils.pos_embed import resample_pos_embed
    expect = resample_pos_embed(sd['visual.positional_embedding'], (4, 4), 1, antialias=True)
    assert torch.equal(t.visual.positional_embedding, expect)
    sd.pop('visual.ln_pre.bias')
    torch.save(sd, path)
    with pytest.raises(CheckpointMismatchError, match='clip.pth.*ln_pre.bias'):
        OpenCLIPTeacher('ViT-B-16', checkpoint=path, img_size=32, model_kwargs=NATIVE)


def test_same_weights_through_timm_port_give_same_features(tmp_path):
    """An open_clip checkpoint loaded by timm's CLIP filter equals the open_clip tower."""
    clip = _tiny_clip()
    path = str(tmp_path / 'open_clip_vit_b16.pth')
    torch.save(clip.state_dict(), path)
    oc = OpenCLIPTeacher('ViT-B-16', checkpoint=path, img_size=32, model_kwargs=NATIVE)
    tm = TimmViTTeacher('vit_base_patch16_clip_224', img_size=32, checkpoint=path,
                        model_kwargs=dict(depth=4, embed_dim=32, num_heads=2))
    assert oc.mean == pytest.approx(tm.mean)
    x = torch.randn(2, 3, 32, 32)
    for a, b in zip(oc(x), tm(x)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_summary_equals_open_clip_encode_image(tmp_path):
    """The summary is CLIP's projected image embedding (what zero-shot matches)."""
    clip = _tiny_clip()
    path = str(tmp_path / 'clip.pth')
    torch.save(clip.state_dict(), path)
    pruned = OpenCLIPTeacher('ViT-B-16', checkpoint=path, img_size=32, model_kwargs=NATIVE)
    with pytest.raises(RuntimeError, match='with_summary=True'):
        pruned.forward_with_summary(torch.randn(1, 3, 32, 32))
    t = OpenCLIPTeacher('ViT-B-16', checkpoint=path, img_size=32, model_kwargs=NATIVE,
                        with_summary=True)
    assert t.summary_dim == 16
    x = torch.randn(2, 3, 32, 32)
    feats, summary = t.forward_with_summary(x)
    for a, b in zip(feats, t(x)):
        torch.testing.assert_close(a, b)
    with torch.no_grad():
        expected = clip.encode_image(t.preprocess(t.convert_input(x)))
    torch.testing.assert_close(summary, expected)
    assert not summary.requires_grad


def test_builds_on_the_meta_device_with_the_real_summary_width():
    """Weightless builds (how distillers read widths without teachers) must work."""
    with torch.device('meta'):
        t = OpenCLIPTeacher('ViT-B-16', img_size=32, model_kwargs=NATIVE, with_summary=True)
    assert t.visual.proj.is_meta
    assert t.summary_dim == 16 and t.embed_dims == [32] * len(t.out_indices)
    real = OpenCLIPTeacher('ViT-B-16', img_size=32, model_kwargs=NATIVE, with_summary=True)
    assert not real.visual.proj.is_meta and real.summary_dim == 16
