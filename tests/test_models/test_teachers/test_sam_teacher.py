"""SAMTeacher: SAM's resize-longest-side + pad rule and official-format weights."""
import pytest
import timm
import torch
import torch.nn.functional as F

from sakbox.models.teachers import SAMTeacher
from sakbox.models.teachers.sam_teacher import resize_longest_side_and_pad

TINY = dict(depth=4, embed_dim=32, num_heads=2, global_attn_indexes=(1, 3), window_size=2,
            neck_chans=16)


def test_resize_and_pad_matches_official_rule():
    x = torch.randn(1, 3, 30, 45)
    out = resize_longest_side_and_pad(x, 64)
    # long side 45 -> 64, short side round(30 * 64 / 45) = 43, zeros below.
    ref = F.interpolate(x, (43, 64), mode='bicubic', align_corners=False)
    assert out.shape == (1, 3, 64, 64)
    torch.testing.assert_close(out[..., :43, :], ref)
    assert out[..., 43:, :].abs().sum() == 0


@pytest.mark.parametrize('crop_valid, in_hw, grid', [
    (False, (32, 48), (4, 4)),  # official: the full padded grid is kept
    (True, (32, 48), (3, 4)),   # valid 43x64 px -> ceil(43 / 16) = 3 rows
    (True, (64, 32), (4, 2)),
])
def test_shapes(crop_valid, in_hw, grid):
    t = SAMTeacher(long_side=64, crop_valid=crop_valid, model_kwargs=TINY)
    assert t.embed_dims == [32] * 4 and t.out_indices == [0, 1, 2, 3]
    assert isinstance(t.model.neck, torch.nn.Identity)  # neck dropped as official
    feats = t(torch.randn(2, 3, *in_hw))
    assert [tuple(f.shape) for f in feats] == [(2, 32, *grid)] * 4


def test_features_equal_reference_on_the_padded_input():
    t = SAMTeacher(long_side=64, model_kwargs=TINY)
    x = torch.randn(1, 3, 40, 64)
    ref_in = resize_longest_side_and_pad(t.convert_input(x), 64)
    ref = t.model.forward_intermediates(ref_in, indices=t.out_indices, intermediates_only=True)
    for a, b in zip(t(x), ref):
        torch.testing.assert_close(a, b)


def _official_sam_state_dict(long_side):
    torch.manual_seed(0)
    ref = timm.create_model('samvit_base_patch16', img_size=long_side, num_classes=0, **TINY)
    sd = {'image_encoder.' + k.replace('mlp.fc', 'mlp.lin'): v
          for k, v in ref.state_dict().items()}
    sd['prompt_encoder.pe_layer.gaussian'] = torch.zeros(2, 2)  # not part of the encoder
    return ref.eval(), sd


def test_official_checkpoint(tmp_path):
    ref, sd = _official_sam_state_dict(64)
    path = str(tmp_path / 'sam_vit_b.pth')
    torch.save(sd, path)
    t = SAMTeacher(long_side=64, checkpoint=path, model_kwargs=TINY)
    x = torch.randn(1, 3, 64, 64)
    expected = ref.forward_intermediates(t.convert_input(x), indices=t.out_indices,
                                         intermediates_only=True)
    for a, b in zip(t(x), expected):
        torch.testing.assert_close(a, b)


def test_checkpoint_resized_to_another_long_side(tmp_path):
    ref, sd = _official_sam_state_dict(64)
    path = str(tmp_path / 'sam.pth')
    torch.save(sd, path)
    t = SAMTeacher(long_side=32, checkpoint=path, model_kwargs=TINY)
    expected = F.interpolate(ref.pos_embed.permute(0, 3, 1, 2), size=(2, 2), mode='bicubic',
                             align_corners=False).permute(0, 2, 3, 1)
    torch.testing.assert_close(t.model.pos_embed, expected)
    # Global-attention blocks' relative tables shrink from 2*4-1 to 2*2-1 rows.
    assert t.model.blocks[1].attn.rel_pos_h.shape[0] == 3
    assert t(torch.randn(1, 3, 32, 32))[0].shape == (1, 32, 2, 2)
