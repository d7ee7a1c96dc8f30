"""RouterStatsHook: logged means per task/level/expert in train and val."""
import json
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from sakbox.engine.hooks import RouterStatsHook, RouterWeightAccumulator


class _Data(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.full((1, ), float(i)))


class _RouterModel(BaseModel):
    """Router weights of sample x: softmax([0, x / 8, 1]) for 'semseg.level0'."""

    expert_names = ['stem', 'a', 'b']

    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(1))
        self.last_router_weights = {}

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        logits = torch.cat([torch.zeros_like(x), x / 8, torch.ones_like(x)], 1)
        self.last_router_weights = {'semseg.level0': logits.softmax(1),
                                    'depth.level1': torch.tensor([[1., 0, 0]]).expand(len(x), 3)}
        if mode == 'loss':
            return dict(loss=(self.p - x.mean()).pow(2).sum())
        return [dict() for _ in x]


class _NoMetric(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        return dict(dummy=0.0)


def expected(xs):
    x = torch.tensor(xs, dtype=torch.float)[:, None]
    return torch.cat([torch.zeros_like(x), x / 8, torch.ones_like(x)], 1).softmax(1).mean(0)


@pytest.mark.parametrize('interval', [2, 4])
def test_hook_logs_train_and_val_means(tmp_path, interval):
    runner = Runner(
        model=_RouterModel(), work_dir=str(tmp_path),
        train_dataloader=dict(dataset=_Data(), sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        val_dataloader=dict(dataset=_Data(), sampler=dict(type='DefaultSampler', shuffle=False),
                            batch_size=4, collate_fn=dict(type='default_collate')),
        val_evaluator=Evaluator(_NoMetric(prefix='x')), val_cfg=dict(),
        train_cfg=dict(by_epoch=False, max_iters=4, val_interval=4),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.0)),
        custom_hooks=[RouterStatsHook(interval=interval)],
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1), checkpoint=None),
        visualizer=dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]),
        default_scope='mmengine', experiment_name=f'router_{interval}')
    runner.train()
    hub = runner.message_hub
    # the last train log covers the last `interval` iterations (2 samples each)
    last = expected(list(range(8 - 2 * interval, 8)))
    for e, name in enumerate(['stem', 'a', 'b']):
        v = hub.get_scalar(f'router/train/semseg/level0/{name}').current()
        assert v == pytest.approx(last[e].item(), abs=1e-6)
    assert hub.get_scalar('router/train/depth/level1/stem').current() == pytest.approx(1.0)
    # validation: mean over all 8 samples
    full = expected(list(range(8)))
    for e, name in enumerate(['stem', 'a', 'b']):
        v = hub.get_scalar(f'router/val/semseg/level0/{name}').current()
        assert v == pytest.approx(full[e].item(), abs=1e-6)
    # the visualizer received them (LocalVisBackend writes scalars.json)
    scalars = osp.join(runner.log_dir, 'vis_data', 'scalars.json')
    lines = [json.loads(line) for line in open(scalars)]
    assert any('router/val/semseg/level0/a' in d for d in lines)
    assert sum('router/train/semseg/level0/a' in d for d in lines) == 4 // interval


def test_accumulator_table_and_spatial_weights():
    acc = RouterWeightAccumulator()
    acc.update({'semseg.level0': torch.tensor([[0.2, 0.8], [0.4, 0.6]])})
    acc.update({'semseg.level0': torch.full((2, 2, 3, 3), 0.5)})  # spatial router
    m = acc.means()
    assert torch.allclose(m['semseg.level0'], torch.tensor([0.4, 0.6]))
    table = acc.format_table(m, ['stem', 'dinov2'])
    assert 'semseg.level0' in table and 'dinov2' in table and '0.600' in table
    assert acc.as_scalars(m, ['stem', 'x'], 'router/val') == {
        'router/val/semseg/level0/stem': pytest.approx(0.4),
        'router/val/semseg/level0/x': pytest.approx(0.6)}
    with pytest.raises(ValueError, match='interval'):
        RouterStatsHook(interval=0)
