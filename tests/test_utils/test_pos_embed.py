"""resample_pos_embed (the one resampler, timm's math) and resample_pos_embeds_in_state_dict."""
import pytest
import timm
import torch
from timm.layers import resample_abs_pos_embed

from sakbox.utils.pos_embed import resample_pos_embed, resample_pos_embeds_in_state_dict


def vit(img_size):
    return timm.create_model('vit_base_patch16_384', pretrained=False, img_size=img_size,
                             depth=1, embed_dim=32, num_heads=2, num_classes=0)


def test_resamples_square_checkpoint_to_model_grid():
    src, dst = vit(64), vit((64, 96))
    holder = torch.nn.ModuleDict(dict(vit=dst))
    sd = {f'vit.{k}': v for k, v in src.state_dict().items()}
    done = resample_pos_embeds_in_state_dict(holder, sd)
    assert done == ['vit.pos_embed']
    expect = resample_abs_pos_embed(src.pos_embed, [4, 6], [4, 4], num_prefix_tokens=1,
                                    interpolation='bicubic', antialias=False)  # as official
    assert torch.allclose(sd['vit.pos_embed'], expect)
    holder.load_state_dict(sd)  # now fits
    assert resample_pos_embeds_in_state_dict(holder, sd) == []  # equal shapes: untouched


def test_non_square_checkpoint_grid_is_named():
    src, dst = vit((64, 96)), vit(64)
    sd = {k: v for k, v in src.state_dict().items()}
    with pytest.raises(ValueError, match='pos_embed.*not a square'):
        resample_pos_embeds_in_state_dict(dst, sd)


@pytest.mark.parametrize('old, new, prefix, antialias', [
    (4, (6, 8), 1, False), (4, (6, 8), 1, True),  # up: antialiasing changes nothing
    (6, (3, 4), 1, False), (6, (3, 4), 1, True),  # down: it does
    (5, (5, 7), 0, False), (4, (4, 4), 5, True),  # no class token; registers; same size
])
def test_resample_pos_embed_is_bit_identical_to_timm(old, new, prefix, antialias):
    torch.manual_seed(0)
    table = torch.randn(1, prefix + old * old, 8)
    expect = resample_abs_pos_embed(table, list(new), [old, old], num_prefix_tokens=prefix,
                                    interpolation='bicubic', antialias=antialias)
    out = resample_pos_embed(table, new, prefix, antialias=antialias)
    assert out.shape == (1, prefix + new[0] * new[1], 8) and torch.equal(out, expect)
    # open_clip keeps (L, C) tables without the batch dimension.
    assert torch.equal(resample_pos_embed(table[0], new, prefix, antialias=antialias),
                       expect[0])
    assert torch.equal(out[:, :prefix], table[:, :prefix])  # prefix tokens kept as they are


def test_resample_pos_embed_names_a_non_square_table():
    with pytest.raises(ValueError, match=r'ckpt.pth: vit.pos_embed: the checkpoint has 6 patch '
                                         r'positions .*not a square grid.*\(2, 2\)'):
        resample_pos_embed(torch.zeros(1, 7, 4), (2, 2), 1, name='ckpt.pth: vit.pos_embed')
