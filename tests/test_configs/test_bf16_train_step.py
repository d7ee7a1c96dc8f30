"""The bf16 paths on every host: a real tiny SAK / RADIO train step in bf16 vs fp32.

Emulated bf16 (AVX2-only CPUs) is slow but fine at this size; the precision is
forced, so the test is the same on every machine kind.
"""
import copy
import os.path as osp

import pytest
import torch

from sakbox.analysis.train_benchmark import build_model_and_optim, crop_size, synthetic_batch
from sakbox.utils import enable_amp
from sakbox.utils.cli import load_config
from sakbox.utils.pretrained import disable_pretrained

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAK = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py')
RADIO = osp.join(ROOT, 'configs', 'radio', 'radio_vit-tiny_1xb32-600it_synthetic-nyud-48x48.py')


def _step(cfg, batch, bf16: bool):
    cfg = copy.deepcopy(cfg)
    cfg.model.teacher_precision = 'bf16' if bf16 else 'fp32'
    if bf16:
        enable_amp(cfg, 'bfloat16')
    torch.manual_seed(0)
    model, optim_wrapper = build_model_and_optim(cfg, torch.device('cpu'))
    seen = []  # output dtypes of the student's linear layers (its matrix work)
    handles = [m.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
               for m in model.student.modules() if isinstance(m, torch.nn.Linear)]
    with optim_wrapper.optim_context(model):
        data = model.data_preprocessor(copy.deepcopy(batch), True)
        losses = model(**data, mode='loss')
    for handle in handles:
        handle.remove()
    total, _ = model.parse_losses(losses)
    optim_wrapper.backward(total)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return model, {k: float(v.detach()) for k, v in losses.items()}, grads, seen


@pytest.mark.parametrize('path, options', [
    (SAK, {'crop_size': (32, 48), 'model.teachers.sam.long_side': 48,
           'model.student.img_size': (32, 48)}),
    (RADIO, {'model.phi_s': None}),  # raw targets: no statistics file needed
], ids=['sak', 'radio'])
def test_bf16_step_runs_in_bf16_and_matches_fp32(path, options):
    cfg = load_config(path, options)
    disable_pretrained(cfg.model)
    torch.manual_seed(0)
    probe, _ = build_model_and_optim(cfg, torch.device('cpu'))
    size = crop_size(cfg)
    batch = synthetic_batch(probe, 2, size, seed=0)
    if 'RADIO' in type(probe).__name__:  # RADIO samples carry no task maps
        for s in batch['data_samples']:
            for key in list(s.keys()):
                if key.startswith('gt_'):
                    del s[key]
    ref_model, ref, ref_grads, ref_dtypes = _step(cfg, batch, bf16=False)
    model, got, grads, dtypes = _step(cfg, batch, bf16=True)
    assert ref_dtypes and all(d == torch.float32 for d in ref_dtypes)
    assert dtypes and all(d == torch.bfloat16 for d in dtypes)  # the student ran in bf16
    assert set(got) == set(ref)
    for key in ref:
        assert torch.isfinite(torch.tensor(got[key])), key
        assert got[key] == pytest.approx(ref[key], rel=5e-2, abs=5e-3), key
    assert got != ref  # really another precision
    assert len(grads) == len(ref_grads) > 0
    assert all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)
    assert all(p.dtype == torch.float32 for p in model.parameters())
