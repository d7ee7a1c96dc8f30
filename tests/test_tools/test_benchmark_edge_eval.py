"""tools/analysis_tools/benchmark_edge_eval.py: its synthetic prediction / GT pairs."""
import numpy as np

from tests.utils import load_tool


def test_benchmark_synthetic_pairs_are_boundary_maps():
    tool = load_tool('tools/analysis_tools/benchmark_edge_eval.py')
    pred, gt = tool.synthetic_pair(np.random.default_rng(0), 48, 64)
    assert pred.shape == gt.shape == (48, 64)
    assert pred.dtype == np.float32 and 0 <= pred.min() and pred.max() <= 1
    assert set(np.unique(gt)) <= {0, 1} and gt.sum() > 0
