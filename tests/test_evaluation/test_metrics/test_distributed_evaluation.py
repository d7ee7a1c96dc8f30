"""Evaluation must give identical metrics whatever the number of processes.

The fast tests split the dataset the way a ``DefaultSampler`` does for each
rank of a W-process run, let every rank's metric ``evaluate`` and merge the
parts exactly as MMEngine's ``collect_results`` does; the ``dist`` test runs
2 real gloo processes.
"""
import json
import math
import os.path as osp
from itertools import chain, zip_longest

import mmengine.dataset.sampler as sampler_module
import mmengine.evaluator.metric as metric_module
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
NO_PERSON = 3  # a sample without human parts (skipped by the human_parts metric), on rank 1


def _dataset():
    rng = np.random.default_rng(123)
    samples = []
    for i in range(NUM_SAMPLES):
        h, w = 20, 28
        seg = rng.integers(0, 4, (h, w))
        parts = np.where(rng.random((h, w)) < 0.5, rng.integers(0, 7, (h, w)), 0)
        if i == NO_PERSON:
            parts[:] = 0
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


def _metric_cfgs(collect_dir=None, edge_nproc=0):
    """The multi-task metric and a stand-alone human-parts metric that skips images."""
    return [
        dict(type='MultiTaskMetric',
             tasks=['semseg', 'human_parts', 'depth', 'normals', 'sal', 'edge'],
             dataset='pascal', collect_dir=collect_dir,
             task_metric_cfgs=dict(semseg=dict(num_classes=4),
                                   edge=dict(max_dist=0.1, nproc=edge_nproc)),
             single_task_baselines=dict(semseg=40.0, human_parts=30.0, depth=1.0,
                                        normals=30.0, sal=60.0, edge=50.0)),
        dict(type='SegMetric', task='human_parts', num_classes=7, skip_background_only=True,
             prefix='parts_alone', collect_dir=None if collect_dir is None
             else collect_dir + '_parts'),
    ]


EDGE_KEYS = ('edge/odsF', 'edge/odsP', 'edge/odsR', 'edge/odsT', 'edge/oisF', 'edge/AP')


def _evaluate(collect_dir, edge_nproc=0):
    """Evaluate the dataset as a distributed val loop would (this rank's sampler slice).

    Returns:
        tuple: The metrics and the dataset indices this rank processed.
    """
    dataset = _dataset()
    evaluator = Evaluator([METRICS.build(c) for c in _metric_cfgs(collect_dir, edge_nproc)])
    indices = list(DefaultSampler(dataset, shuffle=False, round_up=True))
    for start in range(0, len(indices), BATCH_SIZE):
        evaluator.process([dataset[i] for i in indices[start:start + BATCH_SIZE]])
    return evaluator.evaluate(len(dataset)), indices


def _worker(rank, world_size, port, out_dir):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world_size)
    try:
        # edge counts in a worker pool on each rank, inline in the 1-process reference
        metrics, indices = _evaluate(osp.join(out_dir, 'collect'), edge_nproc=2)
        with open(osp.join(out_dir, f'metrics_rank{rank}.json'), 'w') as f:
            json.dump(dict(metrics=metrics, indices=[int(i) for i in indices]), f)
    finally:
        dist.destroy_process_group()


def _same(a, b):
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def _differences(reference, other):
    assert sorted(other) == sorted(reference)
    return {k: (reference[k], other[k]) for k in reference if not _same(reference[k], other[k])}


def _merge_like_mmengine(parts, size):
    """Rank 0's merge in MMEngine 0.10's ``collect_results_cpu`` / ``_collect_results_device``.

    Interleaves the ranks' parts (rank 0's first result, rank 1's first, ...),
    drops ``None`` entries (its padding sentinel for ``zip_longest``) and
    truncates to ``size``, which removes the duplicates the sampler padded with.
    """
    merged = [r for r in chain.from_iterable(zip_longest(*parts)) if r is not None]
    return merged[:size]


def _evaluate_split(world_size, monkeypatch, edge_nproc=0, order=None):
    """Metrics of a simulated ``world_size``-process evaluation, without processes.

    Each rank's metrics process the slice a ``DefaultSampler`` gives that rank
    and run their real ``evaluate`` (pending work, release of worker pools);
    ``collect_results`` is replaced by :func:`_merge_like_mmengine` over the
    parts of all ranks, so the last rank's ``evaluate`` scores the merged list.

    Args:
        world_size: Number of simulated ranks.
        monkeypatch: pytest's fixture.
        edge_nproc: Worker processes of the edge metric.
        order: Optional permutation of the dataset (the order samples are stored in).

    Returns:
        dict: All metrics, as rank 0 would report them.
    """
    dataset = _dataset()
    if order is not None:
        dataset = [dataset[i] for i in order]
    cfgs = _metric_cfgs(edge_nproc=edge_nproc)
    parts = [[] for _ in cfgs]
    current = {}

    def fake_collect(results, size, device='cpu', tmpdir=None):
        rank_parts = parts[current['metric']]
        rank_parts.append(list(results))
        if len(rank_parts) < world_size:
            return list(results)  # a non-main rank: its own scores are discarded
        return _merge_like_mmengine(rank_parts, size)

    monkeypatch.setattr(metric_module, 'collect_results', fake_collect)
    metrics = {}
    for rank in range(world_size):
        monkeypatch.setattr(sampler_module, 'get_dist_info', lambda r=rank: (r, world_size))
        indices = list(DefaultSampler(dataset, shuffle=False, seed=0, round_up=True))
        rank_metrics = [METRICS.build(c) for c in cfgs]
        for start in range(0, len(indices), BATCH_SIZE):
            batch = [dataset[i] for i in indices[start:start + BATCH_SIZE]]
            for metric in rank_metrics:
                metric.process({}, batch)
        for k, metric in enumerate(rank_metrics):
            current['metric'] = k
            metrics.update(metric.evaluate(len(dataset)))
    return metrics


@pytest.mark.parametrize('world_size', [2, 3, 4])
def test_simulated_ranks_give_the_one_process_metrics(world_size, monkeypatch):
    reference = _evaluate_split(1, monkeypatch)
    split = _evaluate_split(world_size, monkeypatch, edge_nproc=2 if world_size == 2 else 0)
    assert set(EDGE_KEYS) <= set(reference) and 'parts_alone/mIoU' in reference
    assert not _differences(reference, split)


def test_metrics_do_not_depend_on_the_order_of_the_samples(monkeypatch):
    reference = _evaluate_split(1, monkeypatch)
    order = np.random.default_rng(0).permutation(NUM_SAMPLES)
    assert not _differences(reference, _evaluate_split(1, monkeypatch, order=order))
    assert not _differences(reference, _evaluate_split(3, monkeypatch, order=order[::-1]))


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
        shards.append(result['indices'])
        assert not _differences(single, result['metrics'])  # exact, edge/AP included
    assert shards == [[0, 2, 4, 6], [1, 3, 5, 0]]  # uneven: sample 0 is processed twice
    assert 'multitask/delta_m' in single and set(EDGE_KEYS) <= set(single)
    assert 'parts_alone/mIoU' in single  # sample NO_PERSON (rank 1) is skipped
