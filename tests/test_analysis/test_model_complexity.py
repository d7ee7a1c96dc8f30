"""sakbox.analysis.model_complexity: FLOPs per top-level submodule, checked by hand and
against an independent FlopCounterMode count."""
import os.path as osp
from unittest import mock

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from torch.utils.flop_counter import FlopCounterMode

from sakbox.analysis.model_complexity import (
    OTHER_ROW,
    build_model_for_flops,
    default_input_shape,
    format_complexity,
    model_complexity,
)
from sakbox.utils.cli import load_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_synthetic-nyud.py')


class TinyNet(nn.Module):
    """1x1 conv stem, two 1x1 heads in a ModuleDict (indexed, never called as a whole)
    and a projection matmul in the top-level module itself."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 1)
        self.heads = nn.ModuleDict(dict(a=nn.Conv2d(8, 2, 1), b=nn.Conv2d(8, 1, 1)))
        self.proj = nn.Parameter(torch.randn(8, 4))
        self.loss = nn.MSELoss()  # no parameters, never run: not a row

    def forward(self, inputs, data_samples=None, mode='tensor'):
        assert mode == 'tensor'
        feat = self.stem(inputs)
        tokens = feat.flatten(2).transpose(1, 2) @ self.proj
        return dict(a=self.heads['a'](feat), b=self.heads['b'](feat), tokens=tokens)


def _explicit_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                        **kwargs):
    """SDPA as its matmuls, so that torch's plain counter sees them."""
    assert not is_causal and dropout_p == 0.0
    logits = (q * (scale or q.shape[-1] ** -0.5)) @ k.transpose(-2, -1)
    if attn_mask is not None:
        logits = logits + attn_mask
    return torch.softmax(logits, dim=-1) @ v


def _independent_count(fn, x) -> int:
    """torch's counter, with every fused attention replaced by its explicit matmuls."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter, mock.patch.object(torch.nn.functional,
                                                     'scaled_dot_product_attention',
                                                     _explicit_attention):
        fn(x)
    return counter.get_total_flops()


def test_hand_counted_flops_per_top_level_module():
    h, w = 6, 10
    report = model_complexity(TinyNet().eval(), (h, w))
    hw = h * w
    stem, heads, proj = 2 * 3 * 8 * hw, 2 * 8 * 2 * hw + 2 * 8 * 1 * hw, 2 * hw * 8 * 4
    rows = {r.name: (r.params, r.flops) for r in report.modules}
    assert rows == {'stem': (3 * 8 + 8, stem), 'heads': (8 * 2 + 2 + 8 + 1, heads),
                    OTHER_ROW: (8 * 4, proj)}
    assert report.total.flops == stem + heads + proj
    assert report.total.params == sum(p.numel() for p in TinyNet().parameters())
    assert report.model_name == 'TinyNet' and report.shape == (h, w)
    assert report.teachers == [] and report.teachers_total is None
    table = format_complexity(report)
    assert 'TinyNet (total)' in table and '  heads' in table and 'input 1x3x6x10' in table


def test_tiny_sak_matches_an_independent_count_and_counts_teachers_apart():
    torch.manual_seed(0)
    cfg = load_config(TINY)
    model = build_model_for_flops(cfg, with_teachers=True)
    assert sorted(model.teachers) == ['clip', 'dinov2', 'sam']
    report = model_complexity(model, (32, 48))
    x = torch.randn(1, 3, 32, 48)
    assert report.total.flops == _independent_count(lambda t: model(t, mode='tensor'), x)
    assert {r.name for r in report.modules} == {'student', 'decode_heads'}
    assert sum(r.flops for r in report.modules) == report.total.flops
    rows = {r.name: r for r in report.modules}
    assert rows['student'].flops == _independent_count(model.student, x)
    # the deployed model's parameters: the test-time build has no teachers at all
    test_build = build_model_for_flops(cfg)
    assert test_build.teachers is None
    assert report.total.params == sum(p.numel() for p in test_build.parameters())
    for row in report.teachers:
        teacher = model.teachers[row.name]
        assert row.flops == _independent_count(teacher, x) > 0
        assert row.params == sum(p.numel() for p in teacher.parameters())
    assert report.teachers_total.flops == sum(r.flops for r in report.teachers)
    assert 'teacher sam' in format_complexity(report)


@pytest.mark.parametrize('cfg_dict, expected', [
    (dict(model=dict(data_preprocessor=dict(size=(40, 56))), crop_size=(32, 32)), (40, 56)),
    (dict(model=dict(data_preprocessor=dict(type='X')), crop_size=(32, 48)), (32, 48)),
    (dict(model=dict(student=dict(img_size=64)), img_size=224), (224, 224)),
    (dict(model=dict(student=dict(img_size=64))), (64, 64)),
])
def test_default_input_shape_prefers_the_test_canvas(cfg_dict, expected):
    assert default_input_shape(Config(cfg_dict)) == expected


def test_missing_size_and_teacherless_with_teachers_raise():
    with pytest.raises(ValueError, match=r'--shape H W'):
        default_input_shape(Config(dict(model=dict(type='ToyNoisyModel'))))
    cfg = Config(dict(model=dict(type='ToyNoisyModel'), default_scope='sakbox'))
    with pytest.raises(ValueError, match='ToyNoisyModel has no `teachers`'):
        build_model_for_flops(cfg, with_teachers=True)
