"""The stage-1 learning-rate schedule of the SAK configs equals the official one.

Reference: the official ``train_s1.py`` builds timm's ``CosineLRScheduler`` with
``t_initial=(30 - 2) * steps_per_epoch, lr_min=1e-5, warmup_t=2 * steps_per_epoch,
warmup_lr_init=1.25e-7, warmup_prefix=True`` on AdamW(lr=1e-3) and updates it every
iteration. Here the reference is timm's scheduler itself, evaluated at each
iteration, against the per-iteration lr MMEngine's schedulers give from the config.

Two known differences (configs/sak/README.md): MMEngine's ``LinearLR`` reaches
the peak on the last warm-up iteration (slope 1 / (W - 1)), timm's one iteration
later (1 / W), a relative difference of at most 1 / W (W = 2 epochs of
iterations); and the official loop steps the scheduler after each iteration with
the iteration's own index, so it trains iteration k >= 1 with lr(k - 1). The
cosine part (iteration W on) is the same function.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR
from timm.scheduler.cosine_lr import CosineLRScheduler

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE1 = ['configs/sak/sak_vit-b_stage1_8xb16-30e_in1k-384x384.py',
          'configs/sak/sak_vit-l_stage1_8xb16-30e_in1k-384x384.py',
          'configs/sak/sak_vit-b_stage1_8xb16-cached-30e_in1k-384x384.py',
          'configs/sak/sak_vit-tiny_stage1_1xb16-30e_synthetic-nyud-96x128.py',
          'configs/_base_/schedules/schedule_cosine_30e.py']
SCHEDULERS = dict(LinearLR=LinearLR, CosineAnnealingLR=CosineAnnealingLR)


def _official_lrs(steps_per_epoch: int, epochs: int = 30, warmup: int = 2):
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = CosineLRScheduler(opt, t_initial=(epochs - warmup) * steps_per_epoch, lr_min=1e-5,
                              warmup_t=warmup * steps_per_epoch, warmup_lr_init=1.25e-7,
                              warmup_prefix=True)
    return [sched._get_lr(t)[0] for t in range(epochs * steps_per_epoch)]


def _config_lrs(cfg: Config, steps_per_epoch: int):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([param], **{k: v for k, v in cfg.optim_wrapper.optimizer.items()
                                        if k != 'type'})
    schedulers = []
    for s in cfg.param_scheduler:
        s = dict(s)
        cls = SCHEDULERS[s.pop('type')]
        assert s.pop('convert_to_iter_based') and s['by_epoch']
        schedulers.append(cls.build_iter_from_epoch(opt, epoch_length=steps_per_epoch, **s))
    lrs = []
    for _ in range(cfg.train_cfg.max_epochs * steps_per_epoch):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        for s in schedulers:
            s.step()
    return lrs


@pytest.mark.parametrize('path', STAGE1, ids=osp.basename)
def test_stage1_schedule_equals_official(path):
    cfg = Config.fromfile(osp.join(ROOT, path))
    if 'train_cfg' not in cfg:
        cfg.train_cfg = dict(max_epochs=30)
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.01
    assert cfg.optim_wrapper.get('clip_grad') is None
    steps = 7
    ours, official = _config_lrs(cfg, steps), _official_lrs(steps)
    assert len(ours) == len(official) == 30 * steps
    assert ours[0] == pytest.approx(1.25e-7, rel=1e-9)
    assert ours[-1] == pytest.approx(official[-1], rel=1e-6) and official[-1] < 1.02e-5
    warmup = 2 * steps
    for i, (a, b) in enumerate(zip(ours, official)):
        if i < warmup:  # MMEngine's linear warm-up: 1.25e-7 -> 1e-3 over W - 1 steps
            assert a == pytest.approx(1.25e-7 + i * (1e-3 - 1.25e-7) / (warmup - 1), rel=1e-9)
            gap = i * (1e-3 - 1.25e-7) * (1 / (warmup - 1) - 1 / warmup)
            assert a - b == pytest.approx(gap, rel=1e-6, abs=1e-15)
            assert gap <= b / (warmup - 1)  # at most 1 / (W - 1) of the official lr
        else:
            assert a == pytest.approx(b, rel=1e-6, abs=1e-12), f'iteration {i}: {a} vs {b}'
