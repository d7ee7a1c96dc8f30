"""tools/test.py vs tools/dist_test.sh on the tiny SAK demo: every metric key equal.

Edge metrics included (the 8-bit edge step turns any last-bit difference of the
logits into a different boundary); both runs use one thread per process, see
docs/evaluation.md.
"""
import json
import os.path as osp

import pytest
import torch
from mmengine.registry import DefaultScope

from sakbox.registry import MODELS
from sakbox.utils.cli import load_config
from sakbox.utils.pretrained import disable_pretrained
from tests.utils import free_port, run_tool

CFG = 'configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py'


@pytest.mark.dist
def test_one_and_two_processes_give_identical_metrics(tmp_path):
    data = tmp_path / 'data'
    run_tool(['tools/dataset_converters/make_synthetic_scenes.py', '--layout', 'nyud',
              '--out', str(data), '--num-train', '1', '--num-val', '5', '--size', '96', '128'])
    cfg = load_config(CFG)
    disable_pretrained(cfg.model)
    cfg.model.build_teachers = False
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('sakbox'):
        model = MODELS.build(cfg.model)
    with torch.no_grad():  # a non-trivial model: random heads give varied predictions
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    ckpt = tmp_path / 'model.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    opts = ['--cfg-options', f'test_dataloader.dataset.data_root={data}',
            'test_dataloader.num_workers=0']
    run_tool(['tools/test.py', CFG, str(ckpt), '--work-dir', str(tmp_path / 'one')] + opts)
    run_tool(['bash', 'tools/dist_test.sh', CFG, str(ckpt), '2', '--work-dir',
              str(tmp_path / 'two')] + opts, env=dict(PORT=str(free_port())))
    metrics = []
    for name in ('one', 'two'):
        with open(osp.join(tmp_path, name, 'metrics.json')) as f:
            metrics.append(json.load(f)['metrics'])
    one, two = metrics
    assert 'edge/AP' in one and 'edge/oisF' in one and one['edge/AP'] > 0
    assert one == two  # bit-identical, every key
