import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from sakbox.evaluation.functional import max_bipartite_matching_size, maximum_matching


def _random_graph(rng, nl, nr, density):
    dense = rng.random((nl, nr)) < density
    left, right = np.nonzero(dense)  # grouped by left node
    ref = maximum_bipartite_matching(csr_matrix(dense.astype(np.int8)), perm_type='column')
    return left, right, int((ref >= 0).sum())


def _assert_valid(left, right, match_l, match_r):
    edges = set(zip(left.tolist(), right.tolist()))
    for l, r in enumerate(match_l):
        if r >= 0:
            assert match_r[r] == l and (l, r) in edges


@pytest.mark.parametrize('seed', range(6))
def test_maximum_matching_equals_reference(seed):
    rng = np.random.default_rng(seed)
    nl, nr = rng.integers(20, 80, 2)
    left, right, ref = _random_graph(rng, nl, nr, rng.uniform(0.02, 0.15))
    match_l, match_r = maximum_matching(left, right, nl, nr)
    _assert_valid(left, right, match_l, match_r)
    assert (match_l >= 0).sum() == ref == max_bipartite_matching_size(left, right, nl, nr)


@pytest.mark.parametrize('seed', range(4))
def test_warm_start_from_any_matching(seed):
    rng = np.random.default_rng(100 + seed)
    nl, nr = 60, 50
    left, right, ref = _random_graph(rng, nl, nr, 0.06)
    # a random (non-maximum) matching of the graph as warm start
    match_l = np.full(nl, -1)
    match_r = np.full(nr, -1)
    for e in rng.permutation(left.size)[:15]:
        if match_l[left[e]] < 0 and match_r[right[e]] < 0:
            match_l[left[e]], match_r[right[e]] = right[e], left[e]
    out_l, out_r = maximum_matching(left, right, nl, nr, match_l, match_r)
    _assert_valid(left, right, out_l, out_r)
    assert (out_l >= 0).sum() == ref


def test_long_augmenting_paths_on_a_chain():
    # l_i -- r_i and l_i -- r_{i+1}; a bad start (l_i - r_{i+1}) needs a long path
    n = 30
    left = np.repeat(np.arange(n), 2)
    right = np.stack([np.arange(n), np.arange(1, n + 1)], 1).reshape(-1)
    keep = right < n
    left, right = left[keep], right[keep]
    match_l = np.where(np.arange(n) < n - 1, np.arange(1, n + 1), -1)
    match_l[n - 1] = -1
    match_r = np.full(n, -1)
    match_r[1:] = np.arange(n - 1)
    out_l, _ = maximum_matching(left, right, n, n, match_l, match_r)
    assert (out_l >= 0).sum() == n
