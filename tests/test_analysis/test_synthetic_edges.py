"""sakbox.analysis.synthetic_edges: the data of benchmark_edge_eval.py."""
import numpy as np

from sakbox.analysis.synthetic_edges import synthetic_edge_batches, synthetic_edge_pair


def test_benchmark_synthetic_pairs_are_boundary_maps():
    pred, gt = synthetic_edge_pair(np.random.default_rng(0), 48, 64)
    assert pred.shape == gt.shape == (48, 64)
    assert pred.dtype == np.float32 and 0 <= pred.min() and pred.max() <= 1
    assert set(np.unique(gt)) <= {0, 1} and gt.sum() > 0


def test_batches_carry_pred_and_gt_edge():
    batches = list(synthetic_edge_batches(5, (48, 64), 2, seed=0))
    assert [len(b) for b in batches] == [2, 2, 1]
    sample = batches[-1][0]
    assert sample.pred_edge.data.shape == sample.gt_edge.data.shape == (1, 48, 64)
    assert sample.img_path == 'synthetic_0004.png'
