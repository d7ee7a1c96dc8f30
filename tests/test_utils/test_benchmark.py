"""sakbox.utils.benchmark: FLOP counting, GEMM peak, peak memory, tables."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from sakbox.utils.benchmark import (
    count_flops,
    count_params,
    format_table,
    measure_forward,
    measure_gemm_peak,
    plain_vit_forward,
    time_calls,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize('batch,cin,cout', [(3, 8, 5), (16, 32, 64)])
def test_count_flops_linear_forward_and_backward_exact(batch, cin, cout):
    layer = nn.Linear(cin, cout)
    x = torch.randn(batch, cin, requires_grad=True)
    fwd = 2 * batch * cin * cout
    assert count_flops(layer, x) == dict(forward=fwd, backward=0, total=fwd)
    both = count_flops(layer, x, backward=True)
    # backward = grad of the input + grad of the weight, one GEMM each
    assert both['forward'] == fwd and both['backward'] == 2 * fwd and both['total'] == 3 * fwd
    assert layer.weight.grad is not None and x.grad.shape == x.shape


@pytest.mark.parametrize('shape', [(2, 3, 10, 8), (6, 12, 8)])  # (B, H, N, D) and (B, N, D)
def test_count_flops_counts_the_cpu_fused_attention_as_its_matmuls(shape):
    """CPU SDPA (flash kernel) counts as q k^T + p v, and its backward as torch's
    SDPA backward formula: the same as the explicit attention's matmuls."""
    q = torch.randn(*shape, requires_grad=True)
    fused = count_flops(lambda t: nn.functional.scaled_dot_product_attention(t, t, t), q,
                        backward=True)
    explicit = count_flops(lambda t: torch.softmax(t @ t.transpose(-2, -1), -1) @ t, q,
                           backward=True)
    n, d = shape[-2:]
    maps = shape[0] * (shape[1] if len(shape) == 4 else 1)
    assert fused['forward'] == explicit['forward'] == 2 * 2 * maps * n * n * d
    assert fused['backward'] == 2.5 * fused['forward']
    assert explicit['backward'] == 2 * explicit['forward']  # no recomputation of q k^T


def test_count_flops_backward_needs_a_grad_output():
    with pytest.raises(ValueError, match='requires grad'):
        count_flops(lambda t: t * 2, torch.randn(2), backward=True)


def test_gemm_peak_is_consistent_and_shrinks_to_the_budget():
    peak = measure_gemm_peak(torch.float32, 'cpu', n=128, repeat=2, max_seconds=None)
    assert peak['n'] == 128 and peak['seconds'] > 0
    assert peak['flops_per_s'] == pytest.approx(2 * 128 ** 3 / peak['seconds'])
    # A budget no matmul can meet halves n down to the probe size (512 here).
    tiny = measure_gemm_peak(torch.float32, 'cpu', n=4096, repeat=1, max_seconds=1e-9)
    assert tiny['n'] == 512 and tiny['flops_per_s'] > 0
    with pytest.raises(ValueError, match='n=0'):
        measure_gemm_peak(n=0)


_PEAK_SCRIPT = """
import torch
from sakbox.utils.benchmark import peak_memory_bytes, reset_peak_memory
big = torch.ones(256 * 1024 * 1024 // 4)  # 256 MiB, touched
del big
old_peak = peak_memory_bytes('cpu')
assert reset_peak_memory('cpu')
before = peak_memory_bytes('cpu')
block = torch.ones(64 * 1024 * 1024 // 4)  # 64 MiB, touched
after = peak_memory_bytes('cpu')
print(old_peak, before, after)
"""


def test_peak_memory_resets_and_sees_a_new_allocation():
    # A fresh process: in the pytest process freed-but-resident heap could serve
    # the new block without raising the resident set.
    if not os.path.exists('/proc/self/clear_refs'):
        pytest.skip('no /proc/self/clear_refs (not Linux)')
    out = subprocess.run([sys.executable, '-c', _PEAK_SCRIPT], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    old_peak, before, after = (int(v) for v in out.split())
    mib = 1024 * 1024
    assert before <= old_peak - 192 * mib  # the reset forgot the freed 256 MiB block
    assert after >= before + 48 * mib  # the new 64 MiB block is seen


def test_format_table_aligns_and_checks_rows():
    text = format_table(['name', 'x'], [['a', 1.23456], ['long name', None]])
    lines = text.splitlines()
    assert lines[0].split() == ['name', 'x'] and set(lines[1]) <= {'-', ' '}
    assert lines[2].endswith('1.23') and lines[3].endswith('-')
    assert len({len(line) for line in lines}) == 1
    with pytest.raises(ValueError, match='row 0 has 1 cells'):
        format_table(['a', 'b'], [[1]])


def test_resident_bytes_is_positive_and_below_the_peak():
    from sakbox.utils.benchmark import peak_memory_bytes, resident_bytes
    now = resident_bytes()
    if now is None:
        pytest.skip('no /proc/self/status (not Linux)')
    assert 0 < now <= peak_memory_bytes('cpu')


def test_full_precision_step_switches_autocast_off_and_restores():
    from sakbox.engine.optim_wrappers import AutocastOptimWrapper
    from sakbox.utils.benchmark import full_precision_step

    model = nn.Linear(4, 4)
    model.teacher_precision = 'bf16'
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                                   dtype='bfloat16', device_type='cpu')
    with wrapper.optim_context(model):
        assert model(torch.randn(2, 4)).dtype == torch.bfloat16
    with full_precision_step(model, wrapper):
        assert model.teacher_precision == 'fp32'
        with wrapper.optim_context(model):
            assert not torch.is_autocast_enabled('cpu')
            assert model(torch.randn(2, 4)).dtype == torch.float32
    assert model.teacher_precision == 'bf16'
    with wrapper.optim_context(model):
        assert model(torch.randn(2, 4)).dtype == torch.bfloat16


def test_time_calls_warms_up_then_times_each_call():
    calls = []
    times = time_calls(lambda v: calls.append(v), 7, repeat=3, warmup=2)
    assert calls == [7] * 5 and len(times) == 3 and all(t >= 0 for t in times)
    assert len(time_calls(lambda: None, repeat=0, warmup=0)) == 1


@pytest.mark.parametrize('dtype', [None, torch.bfloat16])
def test_measure_forward_counts_flops_on_the_flops_input(dtype):
    layer = nn.Linear(8, 4)
    x = torch.randn(6, 8)
    seen = []

    def fn(t):
        seen.append((t.shape[0], torch.is_autocast_cpu_enabled(), torch.is_grad_enabled()))
        return layer(t)

    r = measure_forward(fn, x, repeat=2, warmup=1, dtype=dtype, flops_input=x[:1])
    assert r['flops'] == 2 * 1 * 8 * 4 and r['ms'] > 0
    assert r['peak_memory_bytes'] is None or r['peak_memory_bytes'] > 0
    # one fp32 counting call on the one-row input, then warm-up + timed calls under autocast
    assert seen[0] == (1, False, False)
    assert seen[1:] == [(6, dtype is not None, False)] * 3
    assert measure_forward(layer, x, repeat=1, warmup=0)['flops'] == 2 * 6 * 8 * 4


def test_plain_vit_forward_pads_and_runs_the_blocks():
    import timm
    vit = timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32, depth=2,
                            dynamic_img_size=True).eval()
    assert count_params(vit) == sum(p.numel() for p in vit.parameters())
    with torch.no_grad():
        out = plain_vit_forward(vit)(torch.randn(1, 3, 30, 40))
    assert out.shape == (1, 1 + 2 * 3, vit.embed_dim)
