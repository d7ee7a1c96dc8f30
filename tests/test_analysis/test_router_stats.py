"""sakbox.analysis.router_stats on the tiny config."""
import os.path as osp

import torch
from mmengine.dataset import pseudo_collate

from sakbox.analysis.router_stats import router_stats
from sakbox.apis import init_model
from sakbox.structures import MultiTaskDataSample

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'sak', 'sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py')


def test_router_stats_means_over_batches():
    model = init_model(CONFIG)
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(3):
        data = [dict(inputs=torch.randint(0, 255, (3, 64, 96), dtype=torch.uint8, generator=g),
                     data_samples=MultiTaskDataSample(
                         metainfo=dict(img_shape=(64, 96), ori_shape=(64, 96))))
                for _ in range(2)]
        batches.append(pseudo_collate(data))
    means = router_stats(model, batches, max_samples=5)
    assert set(means) == {f'{t}.level{i}' for t in ('semseg', 'depth', 'normals', 'edge')
                          for i in range(4)}
    # reference: the same batches through the model, first 5 samples
    ref = []
    for batch in batches:
        model.test_step(batch)
        ref.append(model.last_router_weights['depth.level2'])
    ref = torch.cat(ref)[:5].mean(0)
    assert torch.allclose(means['depth.level2'], ref, atol=1e-6)
    assert torch.allclose(means['semseg.level0'].sum(), torch.tensor(1.0), atol=1e-5)
