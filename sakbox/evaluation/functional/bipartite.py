"""Maximum-cardinality bipartite matching on edge lists, with warm starts.

Used to count boundary-pixel correspondences: a greedy matching (vectorised)
is extended, and the augmenting paths it misses are found as a unit-capacity
max-flow (scipy's Dinic) on the part of its residual network that the
source can reach. Starting from the maximum matching of a similar graph
(the previous threshold) usually leaves no augmenting path at all, and then
one breadth-first search certifies optimality.
"""
from typing import Optional, Tuple

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

Matching = Tuple[np.ndarray, np.ndarray]


def greedy_extend(left: np.ndarray, right: np.ndarray, match_l: np.ndarray,
                  match_r: np.ndarray, max_rounds: int = 64) -> None:
    """Grow a matching greedily, in place, by vectorised proposal rounds.

    In each round every free left node proposes to its first free neighbour
    (edges are listed per left node in preference order) and every right node
    accepts the first proposal it gets.

    Args:
        left: (E,) left node of each edge, grouped by left node.
        right: (E,) right node of each edge.
        match_l: (num_left,) partner of each left node or -1 (updated).
        match_r: (num_right,) partner of each right node or -1 (updated).
        max_rounds: Upper bound on the rounds.
    """
    for _ in range(max_rounds):
        ok = (match_l[left] < 0) & (match_r[right] < 0)
        el, er = left[ok], right[ok]
        if not el.size:
            return
        first = np.ones(el.size, dtype=bool)
        first[1:] = el[1:] != el[:-1]
        pl, pr = el[first], er[first]
        order = np.argsort(pr, kind='stable')
        pl, pr = pl[order], pr[order]
        accept = np.ones(pr.size, dtype=bool)
        accept[1:] = pr[1:] != pr[:-1]
        match_l[pl[accept]] = pr[accept]
        match_r[pr[accept]] = pl[accept]


def _first_per_group(keys: np.ndarray) -> np.ndarray:
    """Mask of the first occurrence of each value of ``keys`` (any order)."""
    _, first = np.unique(keys, return_index=True)
    mask = np.zeros(keys.size, dtype=bool)
    mask[first] = True
    return mask


def augment_short_paths(left: np.ndarray, right: np.ndarray, match_l: np.ndarray,
                        match_r: np.ndarray, max_rounds: int = 8) -> None:
    """Apply vertex-disjoint augmenting paths of length 3, in place, vectorised.

    A path ``l - r = l' - r'`` (``l`` and ``r'`` free, ``r`` matched to
    ``l'``) becomes the pairs ``l - r`` and ``l' - r'``. After a greedy
    matching these are the usual missing paths; longer ones are left to the
    max-flow.

    Args:
        left: (E,) left node of each edge, grouped by left node.
        right: (E,) right node of each edge.
        match_l: (num_left,) partners or -1 (updated).
        match_r: (num_right,) partners or -1 (updated).
        max_rounds: Upper bound on the rounds.
    """
    for _ in range(max_rounds):
        to_free = match_r[right] < 0
        fl, fr = left[to_free], right[to_free]
        if not fl.size:
            return
        free_nb = np.full(match_l.size, -1, dtype=np.int64)  # a free neighbour per left
        free_nb[fl[::-1]] = fr[::-1]  # the first one wins (assigned last)
        cand = (match_l[left] < 0) & ~to_free
        l, r = left[cand], right[cand]
        lp = match_r[r]
        rp = free_nb[lp]
        ok = rp >= 0
        l, r, lp, rp = l[ok], r[ok], lp[ok], rp[ok]
        if not l.size:
            return
        for keys in ('l', 'r', 'rp'):
            keep = _first_per_group({'l': l, 'r': r, 'rp': rp}[keys])
            l, r, lp, rp = l[keep], r[keep], lp[keep], rp[keep]
        match_l[l] = r
        match_r[r] = l
        match_l[lp] = rp
        match_r[rp] = lp


def _csr_from_sorted_rows(rows: np.ndarray, cols: np.ndarray, num_nodes: int) -> csr_matrix:
    """Unit-weight adjacency matrix from edges already ordered by row (no duplicates)."""
    indptr = np.zeros(num_nodes + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=num_nodes), out=indptr[1:])
    return csr_matrix((np.ones(rows.size, dtype=np.int32), cols.astype(np.int32), indptr),
                      shape=(num_nodes, num_nodes))


def maximum_matching(left: np.ndarray, right: np.ndarray, num_left: int, num_right: int,
                     match_l: Optional[np.ndarray] = None,
                     match_r: Optional[np.ndarray] = None) -> Matching:
    """A maximum-cardinality matching of the bipartite graph given by its edges.

    Args:
        left: (E,) left node of each edge, in ``[0, num_left)``, grouped by
            left node (each node's edges contiguous, preferred first).
        right: (E,) right node of each edge, in ``[0, num_right)``.
        num_left: Number of left nodes.
        num_right: Number of right nodes.
        match_l: Optional warm start: (num_left,) partners or -1; it must be a
            matching of this graph (every matched pair an edge).
        match_r: The same warm start seen from the right nodes.

    Returns:
        tuple: ``(match_l, match_r)`` of a maximum matching.
    """
    match_l = (np.full(num_left, -1, dtype=np.int64) if match_l is None
               else np.array(match_l, dtype=np.int64))
    match_r = (np.full(num_right, -1, dtype=np.int64) if match_r is None
               else np.array(match_r, dtype=np.int64))
    if left.size == 0:
        return match_l, match_r
    greedy_extend(left, right, match_l, match_r)
    augment_short_paths(left, right, match_l, match_r)
    free_l = np.flatnonzero((match_l < 0) & (np.bincount(left, minlength=num_left) > 0))
    free_r = np.flatnonzero((match_r < 0) & (np.bincount(right, minlength=num_right) > 0))
    if not free_l.size or not free_r.size:  # one side saturated: maximum
        return match_l, match_r

    # Residual network: source -> free left, unmatched left -> right,
    # matched right -> left, free right -> sink. Nodes: left ids, then right
    # ids, then source and sink; edges are listed row by row.
    unmatched = match_l[left] != right
    source, sink = num_left + num_right, num_left + num_right + 1
    right_out = match_r.copy()
    right_out[free_r] = sink
    has_out = right_out >= 0
    src = np.concatenate([left[unmatched], num_left + np.flatnonzero(has_out),
                          np.full(free_l.size, source)])
    dst = np.concatenate([num_left + right[unmatched], right_out[has_out], free_l])
    graph = _csr_from_sorted_rows(src, dst, sink + 1)
    reach = np.zeros(sink + 1, dtype=bool)
    reach[breadth_first_order(graph, source, directed=True, return_predecessors=False)] = True
    if not reach[sink]:  # no augmenting path: already maximum
        return match_l, match_r

    keep = reach[src]
    src, dst = src[keep], dst[keep]
    new_id = np.cumsum(reach) - 1
    sub_src, sub_dst = new_id[src], new_id[dst]
    sub = _csr_from_sorted_rows(sub_src, sub_dst, int(reach.sum()))
    result = maximum_flow(sub, int(new_id[source]), int(new_id[sink]), method='dinic')
    flow = np.asarray(result.flow.tocsr()[sub_src, sub_dst]).ravel() > 0
    # Flow on a matched edge (right -> left) dissolves that pair; flow on an
    # unmatched edge (left -> right) forms a new one.
    dissolve = flow & (src >= num_left) & (src < source) & (dst < num_left)
    form = flow & (src < num_left) & (dst >= num_left) & (dst < source)
    match_l[dst[dissolve]] = -1
    match_r[src[dissolve] - num_left] = -1
    match_l[src[form]] = dst[form] - num_left
    match_r[dst[form] - num_left] = src[form]
    return match_l, match_r


def max_bipartite_matching_size(left: np.ndarray, right: np.ndarray, num_left: int,
                                num_right: int) -> int:
    """Size of a maximum matching (see :func:`maximum_matching`).

    Args:
        left: (E,) left node of each edge, grouped by left node.
        right: (E,) right node of each edge.
        num_left: Number of left nodes.
        num_right: Number of right nodes.

    Returns:
        int: The matching size.
    """
    match_l, _ = maximum_matching(left, right, num_left, num_right)
    return int((match_l >= 0).sum())
