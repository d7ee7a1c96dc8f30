"""resample_pos_embeds_in_state_dict on a timm ViT."""
import pytest
import timm
import torch
from timm.layers import resample_abs_pos_embed

from sakbox.models.utils import resample_pos_embeds_in_state_dict


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
