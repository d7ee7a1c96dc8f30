import numpy as np
import pytest

from sakbox.evaluation import EdgeMetric
from sakbox.registry import METRICS

from ..helpers import make_sample


def _samples(n=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        gt = np.zeros((40, 48), np.int64)
        r0, c0 = rng.integers(5, 15, 2)
        gt[r0, c0:c0 + 25] = 1
        gt[r0:r0 + 20, c0] = 1
        pred = np.clip(np.roll(gt, int(rng.integers(-1, 2)), 1) * rng.uniform(0.5, 1.0)
                       + rng.uniform(0, 0.3, gt.shape) * (rng.random(gt.shape) < 0.05), 0, 1)
        out.append(make_sample({'edge': pred.astype(np.float32)}, {'edge': gt},
                               img_path=f'{i}.png'))
    return out


def test_worker_pool_gives_the_same_counts_as_inline():
    samples = _samples()
    inline = EdgeMetric(max_dist=0.05, nproc=0)
    inline.process({}, samples)
    pooled = METRICS.build(dict(type='EdgeMetric', max_dist=0.05, nproc=2, max_pending=2))
    pooled.process({}, samples)
    assert pooled._executor is not None
    a, b = inline.evaluate(len(samples)), pooled.evaluate(len(samples))
    assert pooled._executor is None  # shut down after evaluation
    assert a == b
    assert set(a) == {'edge/odsF', 'edge/odsP', 'edge/odsR', 'edge/odsT', 'edge/oisF', 'edge/AP'}
    assert 50 < a['edge/odsF'] <= 100


def test_dataset_defaults_and_errors():
    assert EdgeMetric(dataset='nyud', nproc=0).max_dist == 0.011
    assert EdgeMetric(dataset='pascal', nproc=0).max_dist == 0.0075
    with pytest.raises(ValueError, match='max_dist or dataset'):
        EdgeMetric()
    with pytest.raises(ValueError, match='matcher'):
        EdgeMetric(dataset='nyud', matcher='hungarian')
