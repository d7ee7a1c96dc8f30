"""Tests of the E-RADIO hybrid student."""
import pytest
import torch

from sakbox.models.students.eradio import ERADIO, MultiResAttentionBlock, WindowAttention
from sakbox.registry import MODELS

TINY = dict(dim=8, stem_dim=8, depths=(1, 1, 2, 1), num_heads=(2, 2), window_size=2,
            embed_dim=24)


@pytest.mark.parametrize('size', [(32, 32), (64, 96), (96, 64), (160, 32)])
def test_any_resolution_shapes(size):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='ERADIO', num_cls_tokens=3, **TINY)).eval()
    out = model(torch.randn(2, 3, *size))
    h, w = size
    assert out['summary'].shape == (2, 3, 24)
    assert out['features'].shape == (2, 24, h // 16, w // 16)
    assert [tuple(lvl.shape[1:]) for lvl in out['levels']] == [
        (8 * 2**i, h // 2**(i + 2), w // 2**(i + 2)) for i in range(4)]
    # summary = mean-pooled features, one copy per slot
    torch.testing.assert_close(out['summary'][:, 1], out['features'].mean(dim=(2, 3)))


def test_bad_size_and_config():
    model = ERADIO(**TINY)
    with pytest.raises(ValueError, match='multiples of 32'):
        model(torch.randn(1, 3, 48, 64))
    with pytest.raises(ValueError, match='depths needs 4'):
        ERADIO(depths=(1, 1, 1))


def test_window_attention_matches_full_attention_on_one_window():
    torch.manual_seed(0)
    attn = WindowAttention(8, 2, window_size=3)
    x = torch.randn(2, 9, 8)
    q, k, v = attn.qkv(x).reshape(2, 9, 3, 2, 4).permute(2, 0, 3, 1, 4)
    bias = attn.rel_pos_bias[attn.rel_index].permute(2, 0, 1)
    ref = ((q @ k.transpose(-1, -2)) / 2 + bias).softmax(-1) @ v
    ref = attn.proj(ref.transpose(1, 2).reshape(2, 9, 8))
    torch.testing.assert_close(attn(x), ref)
    # relative bias: equal offsets share an entry
    assert attn.rel_index[0, 4] == attn.rel_index[4, 8]


def test_padded_keys_are_ignored():
    """Valid tokens' outputs do not depend on what the padded (masked) tokens hold."""
    torch.manual_seed(0)
    attn = WindowAttention(8, 2, window_size=2)
    x = torch.randn(3, 4, 8)
    mask = torch.tensor([[True, True, False, False], [True, False, True, False],
                         [True, True, True, True]])
    y1 = attn(x, mask)
    x2 = torch.where(mask[..., None], x, torch.randn_like(x) * 10)
    y2 = attn(x2, mask)
    torch.testing.assert_close(y1[mask], y2[mask])
    assert not torch.allclose(attn(x2), attn(x))  # without the mask they would matter


def test_block_pads_odd_maps_to_whole_windows():
    torch.manual_seed(0)
    blk = MultiResAttentionBlock(8, 2, window_size=4, subsample=1).eval()
    x = torch.randn(2, 8, 6, 5)
    y = blk(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    win, mask, padded = blk._windows(x)
    assert padded == (8, 8) and win.shape == (2, 4, 16, 8)
    assert mask.shape == (8, 16) and int(mask.sum()) == 2 * 30


def test_subsampled_block_and_gradients():
    torch.manual_seed(0)
    blk = MultiResAttentionBlock(8, 2, window_size=2, subsample=2)
    x = torch.randn(2, 8, 5, 7, requires_grad=True)  # odd sizes
    y = blk(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad.abs().sum() > 0 and blk.down.weight.grad is not None


def test_frozen_multitask_backbone():
    model = ERADIO(frozen=True, tasks=['semseg'], **TINY).train()
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    out = model(torch.randn(1, 3, 64, 64))
    assert len(out['task_feats']['semseg']) == 4
