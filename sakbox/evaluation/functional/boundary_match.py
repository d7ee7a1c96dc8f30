"""Correspondence between a predicted and a ground-truth boundary map.

Two matchers count how many boundary pixels can be put in one-to-one
correspondence within ``max_dist`` (a fraction of the image diagonal):

* ``'fast'`` (default) -- an exact **maximum-cardinality** bipartite matching
  of the pixel pairs within ``max_dist`` (:mod:`.bipartite`). This is
  the quantity BSDS's ``correspondPixels`` (which SEISM calls) optimises
  first: its min-cost assignment charges 100 x ``max_dist`` for every
  unmatched pixel, far more than any match distance. Because BSDS wires the
  outlier nodes of its assignment graph sparsely at random, it can end a
  handful of matches short of the maximum; in our tests the two counts
  differ by at most 0.5 % at any threshold.
* ``'bsds'`` -- the BSDS C++ matcher itself through ``pyedgeeval``
  (``correspond_pixels``; the package is MIT licensed, the matching C++ is
  from the Berkeley benchmark, GPL-2.0). Bit-for-bit SEISM counts, 5 to
  100 times slower (more on large, dense maps).
"""
import cv2
import numpy as np

from .bipartite import max_bipartite_matching_size, maximum_matching

MATCHERS = ('fast', 'bsds')


def _import_pyedgeeval():
    try:
        import pyEdgeEval
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "matcher='bsds' needs the optional package pyedgeeval (MIT; its BSDS "
            "matching C++ is GPL-2.0): `pip install pyedgeeval`, or use matcher='fast'."
        ) from e
    return pyEdgeEval


class BoundaryMatcher:
    """Matches boundary maps against one fixed ground-truth boundary map.

    Args:
        gt: (H, W) bool ground-truth boundary map (already thinned).
        max_dist: Match tolerance as a fraction of the image diagonal.
        matcher: ``'fast'`` or ``'bsds'`` (see the module docstring).
    """

    def __init__(self, gt: np.ndarray, max_dist: float, matcher: str = 'fast') -> None:
        if matcher not in MATCHERS:
            raise ValueError(f'matcher must be one of {MATCHERS}, got {matcher!r}')
        if max_dist <= 0:
            raise ValueError(f'max_dist must be > 0, got {max_dist}')
        self.gt = np.asarray(gt, dtype=bool)
        self.shape = self.gt.shape
        self.num_gt = int(self.gt.sum())
        self.matcher = matcher
        h, w = self.shape
        # Same tolerance as BSDS: pairs with du^2 + dv^2 <= (max_dist * diag)^2.
        self.radius = max_dist * np.sqrt(h * h + w * w)
        self.max_dist = max_dist
        if matcher == 'fast' and self.num_gt:
            self._prepare_fast()

    def _prepare_fast(self) -> None:
        h, w = self.shape
        rad = int(np.ceil(self.radius))
        self._pad = rad
        self._wp = w + 2 * rad
        dy, dx = np.mgrid[-rad:rad + 1, -rad:rad + 1]
        d2 = dy * dy + dx * dx
        keep = d2 <= self.radius * self.radius
        # Nearest offsets first: each pixel's pairs come out in distance order,
        # which the greedy start of the matching relies on.
        by_dist = np.argsort(d2[keep], kind='stable')
        self._offsets = (dy[keep] * self._wp + dx[keep]).astype(np.int64)[by_dist]
        gidx = np.full((h + 2 * rad, w + 2 * rad), -1, dtype=np.int64)
        gy, gx = np.nonzero(self.gt)
        gidx[gy + rad, gx + rad] = np.arange(gy.size)
        self._gidx = gidx.reshape(-1)
        # Pixels with a ground-truth pixel within the radius (others never match).
        self._near = cv2.dilate(self.gt.astype(np.uint8), keep.astype(np.uint8)) > 0

    def count(self, pred: np.ndarray) -> int:
        """Number of matched pixel pairs between ``pred`` and the ground truth.

        Args:
            pred: (H, W) bool predicted boundary map (already thinned).

        Returns:
            int: The number of matched predicted pixels, which equals the
            number of matched ground-truth pixels (one-to-one matching).
        """
        pred = np.asarray(pred, dtype=bool)
        if pred.shape != self.shape:
            raise ValueError(f'prediction shape {pred.shape} != ground truth {self.shape}')
        ys, xs = np.nonzero(pred)
        return self.count_points(ys, xs)

    def count_points(self, ys: np.ndarray, xs: np.ndarray) -> int:
        """:meth:`count` for a prediction given as pixel coordinates.

        Args:
            ys: (N,) rows of the predicted boundary pixels (unique pixels).
            xs: (N,) their columns.

        Returns:
            int: The number of matched pixel pairs.
        """
        if not self.num_gt or not len(ys):
            return 0
        if self.matcher == 'bsds':
            pred = np.zeros(self.shape, dtype=bool)
            pred[ys, xs] = True
            return self._count_bsds(pred)
        return self._count_fast(np.asarray(ys), np.asarray(xs))

    def _count_bsds(self, pred: np.ndarray) -> int:
        pee = _import_pyedgeeval()
        match_pred, match_gt, _, _ = pee.correspond_pixels(
            pred.astype(np.float64), self.gt.astype(np.float64), max_dist=self.max_dist)
        n_pred, n_gt = int((match_pred > 0).sum()), int((match_gt > 0).sum())
        if n_pred != n_gt:  # pragma: no cover - BSDS guarantees a one-to-one match
            raise RuntimeError(f'BSDS matching is not one-to-one ({n_pred} vs {n_gt})')
        return n_pred

    def set_candidates(self, ys: np.ndarray, xs: np.ndarray) -> None:
        """Precompute the pixel pairs of a superset of the pixels to be counted.

        :func:`~.boundary.boundary_counts` counts many subsets (one per
        threshold) of the same predicted pixels; finding their ground-truth
        neighbours once makes each count a cheap selection, and each count
        starts from the previous count's maximum matching.

        Args:
            ys: (N,) rows of the candidate pixels (unique pixels).
            xs: (N,) their columns.
        """
        if self.matcher != 'fast' or not self.num_gt:
            return
        ys, xs = np.asarray(ys), np.asarray(xs)
        near = self._near[ys, xs]
        py, px = ys[near], xs[near]
        self._cand_id = np.full(self.shape, -1, dtype=np.int64)
        self._cand_id[py, px] = np.arange(py.size)
        left, right = self._pairs(py, px)
        self._cand_left, self._cand_right = left, right
        self._num_cand = py.size
        self._warm = (np.full(py.size, -1, dtype=np.int64),
                      np.full(self.num_gt, -1, dtype=np.int64))

    def _pairs(self, py: np.ndarray, px: np.ndarray):
        flat = (py + self._pad) * self._wp + (px + self._pad)
        cand = self._gidx[flat[:, None] + self._offsets[None, :]]
        rows, cols = np.nonzero(cand >= 0)
        return rows, cand[rows, cols]

    def _count_fast(self, ys: np.ndarray, xs: np.ndarray) -> int:
        cand_id = getattr(self, '_cand_id', None)
        if cand_id is not None:
            ids = cand_id[ys, xs]
            outside = ids < 0
            if not outside.any() or not self._near[ys[outside], xs[outside]].any():
                return self._count_candidates(ids[~outside])
        near = self._near[ys, xs]
        py, px = ys[near], xs[near]
        if not py.size:
            return 0
        left, right = self._pairs(py, px)
        return max_bipartite_matching_size(left, right, py.size, self.num_gt)

    def _count_candidates(self, ids: np.ndarray) -> int:
        """Match the candidate pixels ``ids``, warm-started from the previous call."""
        active = np.zeros(self._num_cand, dtype=bool)
        active[ids] = True
        keep = active[self._cand_left]
        match_l, match_r = self._warm
        gone = (match_l >= 0) & ~active
        match_r[match_l[gone]] = -1
        match_l[gone] = -1
        self._warm = maximum_matching(self._cand_left[keep], self._cand_right[keep],
                                      self._num_cand, self.num_gt, match_l, match_r)
        return int((self._warm[0] >= 0).sum())
