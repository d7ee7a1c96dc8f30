"""SAM attention by query blocks: equal to the dense-bias attention, switched only where asked."""
import copy
import pickle

import pytest
import timm
import torch

from sakbox.models.teachers import SAMTeacher
from sakbox.models.teachers import sam_rel_pos_attention as rpa
from sakbox.models.teachers.sam_rel_pos_attention import (
    BlockedRelPosAttention,
    rel_pos_attention,
    use_blocked_rel_pos_attention,
)

TINY = dict(depth=4, embed_dim=32, num_heads=2, global_attn_indexes=(1, 3), window_size=2,
            neck_chans=16)


def _dense_reference(q, k, v, rel_h, rel_w, scale):
    """softmax(scale q k^T + rel_h[i, j // k_w] + rel_w[i, j % k_w]) v, in float64."""
    q, k, v, rel_h, rel_w = (t.double() for t in (q, k, v, rel_h, rel_w))
    k_w = rel_w.shape[-1]
    j = torch.arange(k.shape[1])
    bias = rel_h[:, :, j // k_w] + rel_w[:, :, j % k_w]
    return torch.softmax(scale * q @ k.transpose(1, 2) + bias, dim=-1) @ v


@pytest.mark.parametrize('grid', [(4, 4), (3, 5)])
@pytest.mark.parametrize('block_elements', [1, 7 * 15 * 3, 10**9])  # 1 row, uneven, all
def test_equals_the_dense_bias_attention(grid, block_elements):
    torch.manual_seed(0)
    n = grid[0] * grid[1]
    q, k = torch.randn(3, n, 8), torch.randn(3, n, 8)
    v = torch.randn(3, n, 6)
    rel_h, rel_w = torch.randn(3, n, grid[0]), torch.randn(3, n, grid[1])
    out = rel_pos_attention(q, k, v, rel_h, rel_w, 8**-0.5, block_elements)
    assert out.shape == (3, n, 6) and out.dtype == torch.float32
    torch.testing.assert_close(out.double(), _dense_reference(q, k, v, rel_h, rel_w, 8**-0.5),
                               rtol=1e-5, atol=1e-5)


def test_bf16_inputs_stay_bf16_and_close():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 16, 8) for _ in range(3))
    rel_h, rel_w = torch.randn(2, 16, 4), torch.randn(2, 16, 4)
    out = rel_pos_attention(*(t.bfloat16() for t in (q, k, v, rel_h, rel_w)), 8**-0.5, 64)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.double(), _dense_reference(q, k, v, rel_h, rel_w, 8**-0.5),
                               rtol=0, atol=0.05)


def test_shapes_that_do_not_fit_raise():
    q = torch.randn(2, 16, 8)
    with pytest.raises(ValueError, match=r'rel_h \(2, 16, 3\)'):
        rel_pos_attention(q, q, q, torch.randn(2, 16, 3), torch.randn(2, 16, 4), 1.0)


def _tiny_sam():
    torch.manual_seed(0)
    model = timm.create_model('samvit_base_patch16', pretrained=False, num_classes=0,
                              img_size=64, **TINY).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'rel_pos' in name:  # timm inits the tables to 0: make the bias matter
                p.normal_(0, 0.5)
    return model


def _spy(monkeypatch):
    calls = []
    real = rpa.rel_pos_attention

    def spy(*args, **kwargs):
        calls.append(args[0].dtype)
        return real(*args, **kwargs)

    monkeypatch.setattr(rpa, 'rel_pos_attention', spy)
    return calls


@pytest.mark.parametrize('block_elements,blocked_calls', [
    (10, 4),   # every map (2x2 windows: 16 elements, global 4x4: 256) is larger
    (50, 2),   # the windowed maps fit one block: timm's path; the 2 global blocks not
])
def test_blocked_fp32_matches_timm(monkeypatch, block_elements, blocked_calls):
    ref, model = _tiny_sam(), _tiny_sam()
    assert use_blocked_rel_pos_attention(model, block_elements=block_elements) == 4
    assert all(type(b.attn) is BlockedRelPosAttention for b in model.blocks)
    assert list(model.state_dict()) == list(ref.state_dict())
    calls = _spy(monkeypatch)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.forward_features(x), ref.forward_features(x),
                                   rtol=1e-5, atol=1e-5)
    assert calls == [torch.float32] * blocked_calls


def test_timm_mode_is_bit_equal_to_timm(monkeypatch):
    ref, model = _tiny_sam(), _tiny_sam()
    use_blocked_rel_pos_attention(model)
    assert use_blocked_rel_pos_attention(model, 'timm') == 0  # switches back
    assert not any(isinstance(m, BlockedRelPosAttention) for m in model.modules())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.forward_features(x), ref.forward_features(x))


def test_bf16_autocast_is_as_close_to_fp32_as_timms_own(monkeypatch):
    """Forced bf16 autocast (runs on every CPU kind): the blocks compute in bf16."""
    ref, model = _tiny_sam(), _tiny_sam()
    use_blocked_rel_pos_attention(model, block_elements=10)
    calls = _spy(monkeypatch)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        exact = ref.forward_features(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            timm_bf16 = ref.forward_features(x).float()
            ours = model.forward_features(x).float()
    assert calls and set(calls) == {torch.bfloat16}
    err_timm = (timm_bf16 - exact).abs().max().item()
    err_ours = (ours - exact).abs().max().item()
    assert err_ours <= 2 * err_timm + 1e-3, (err_ours, err_timm)
    torch.testing.assert_close(ours, timm_bf16, rtol=0, atol=0.1 * exact.abs().max().item())


def test_bad_values():
    model = _tiny_sam()
    with pytest.raises(ValueError, match="rel_pos_attn must be one of .*'fast'"):
        use_blocked_rel_pos_attention(model, 'fast')
    with pytest.raises(ValueError, match='block_elements must be positive'):
        use_blocked_rel_pos_attention(model, block_elements=0)


def test_attention_dropout_in_training_takes_timms_forward(monkeypatch):
    model = _tiny_sam()
    use_blocked_rel_pos_attention(model, block_elements=10)
    calls = _spy(monkeypatch)
    attn = model.blocks[1].attn.train()
    attn.attn_drop.p = 0.1
    attn(torch.randn(1, 4, 4, 32))
    assert calls == []
    attn.attn_drop.p = 0.0
    attn(torch.randn(1, 4, 4, 32))
    assert calls == [torch.float32]


def test_switched_model_pickles_and_copies():
    model = _tiny_sam()
    use_blocked_rel_pos_attention(model, block_elements=77)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert type(clone.blocks[1].attn) is BlockedRelPosAttention
        assert clone.blocks[1].attn.block_elements == 77


def test_sam_teacher_option():
    blocked = SAMTeacher(long_side=64, model_kwargs=TINY)
    assert blocked.rel_pos_attn == 'blocked'
    assert all(type(b.attn) is BlockedRelPosAttention for b in blocked.model.blocks)
    timm_t = SAMTeacher(long_side=64, model_kwargs=TINY, rel_pos_attn='timm')
    assert not any(isinstance(m, BlockedRelPosAttention) for m in timm_t.modules())
    with pytest.raises(ValueError, match="SAMTeacher: rel_pos_attn must be one of"):
        SAMTeacher(long_side=64, model_kwargs=TINY, rel_pos_attn='flash')
