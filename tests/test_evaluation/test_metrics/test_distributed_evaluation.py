"""1-process and 2-process (gloo, CPU) evaluation must give identical metrics."""
import json
import math
import os.path as osp

import numpy as np
import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.dataset import DefaultSampler
from mmengine.evaluator import Evaluator

from sakbox.registry import METRICS

from ...utils import free_port
from ..helpers import make_sample

NUM_SAMPLES = 7  # odd: the sampler pads rank 1 with sample 0
BATCH_SIZE = 2


def _dataset():
    rng = np.random.default_rng(123)
    samples = []
    for i in range(NUM_SAMPLES):
        h, w = 20, 28
        seg = rng.integers(0, 4, (h, w))
        parts = np.where(rng.random((h, w)) < 0.5, rng.integers(0, 7, (h, w)), 0)
        depth = rng.uniform(0.5, 10, (h, w)).astype(np.float32)
        depth[0] = 0  # invalid row
        normals = rng.normal(size=(3, h, w)).astype(np.float32)
        sal = (rng.random((h, w)) < 0.3).astype(np.int64)
        edge = np.zeros((h, w), np.int64)
        edge[rng.integers(3, h - 3), 2:-2] = 1
        edge[2:-2, rng.integers(3, w - 3)] = 1
        preds = dict(
            semseg=np.where(rng.random((h, w)) < 0.7, seg, rng.integers(0, 4, (h, w))),
            human_parts=np.where(rng.random((h, w)) < 0.7, parts, 0),
            depth=depth * rng.uniform(0.8, 1.2, (h, w)).astype(np.float32),
            normals=normals + rng.normal(0, 0.3, (3, h, w)).astype(np.float32),
            sal=np.clip(sal * 0.6 + rng.random((h, w)) * 0.5, 0, 1).astype(np.float32),
            edge=np.clip(np.roll(edge, i % 3 - 1, 0) * 0.9 + rng.random((h, w)) * 0.2,
                         0, 1).astype(np.float32))
        gts = dict(semseg=seg, human_parts=parts, depth=depth, normals=normals, sal=sal,
                   edge=edge)
        samples.append(make_sample(preds, gts, img_path=f'img_{i}.png'))
    return samples


def _metric_cfg(collect_dir):
    return dict(type='MultiTaskMetric',
                tasks=['semseg', 'human_parts', 'depth', 'normals', 'sal', 'edge'],
                dataset='pascal', collect_dir=collect_dir,
                task_metric_cfgs=dict(semseg=dict(num_classes=4),
                                      edge=dict(max_dist=0.1, nproc=0)),
                single_task_baselines=dict(semseg=40.0, human_parts=30.0, depth=1.0,
                                           normals=30.0, sal=60.0, edge=50.0))


def _evaluate(collect_dir):
    """Evaluate the dataset as a distributed val loop would (this rank's sampler slice).

    Returns:
        tuple: The metrics and the dataset indices this rank processed.
    """
    dataset = _dataset()
    evaluator = Evaluator([METRICS.build(_metric_cfg(collect_dir))])
    indices = list(DefaultSampler(dataset, shuffle=False, round_up=True))
    for start in range(0, len(indices), BATCH_SIZE):
        evaluator.process([dataset[i] for i in indices[start:start + BATCH_SIZE]])
    return evaluator.evaluate(len(dataset)), indices


def _worker(rank, world_size, port, out_dir):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world_size)
    try:
        metrics, indices = _evaluate(osp.join(out_dir, 'collect'))
        with open(osp.join(out_dir, f'metrics_rank{rank}.json'), 'w') as f:
            json.dump(dict(metrics=metrics, indices=[int(i) for i in indices]), f)
    finally:
        dist.destroy_process_group()


def _same(a, b):
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


@pytest.mark.dist
def test_two_process_gloo_evaluation_equals_one_process(tmp_path):
    single, _ = _evaluate(str(tmp_path / 'collect_single'))
    # spawn, not fork: a forked child running torch CPU ops after the parent did can
    # deadlock in OpenMP
    mp.spawn(_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    shards = []
    for rank in range(2):  # every rank receives the broadcast metrics
        with open(tmp_path / f'metrics_rank{rank}.json') as f:
            result = json.load(f)
        distributed = result['metrics']
        shards.append(result['indices'])
        assert sorted(distributed) == sorted(single)
        bad = {k: (single[k], distributed[k]) for k in single if not _same(single[k], distributed[k])}
        assert not bad, bad
    assert shards == [[0, 2, 4, 6], [1, 3, 5, 0]]  # uneven: sample 0 is processed twice
    assert 'multitask/delta_m' in single and 'edge/odsF' in single
