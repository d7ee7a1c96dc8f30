"""Boundary-detection evaluation (odsF / oisF / AP) following SEISM as used by SAK.

The official SAK pipeline (``evaluation/edge_evaluation.py`` with ``--nms``,
its SEISM fork ``nms_process.m`` / ``pr_curves_base.m``) does, per image:

1. save ``uint8(sigmoid * 255)`` (truncation) as a PNG;
2. NMS: ``E = convTri(png / 255, 1)``, orientation from ``convTri(E, 4)``,
   ``edgesNmsMex(E, O, r=4, s=5, m=1.01)``, saved again as ``uint8(E * 255)``
   (rounding);
3. for each of 99 thresholds ``t = 0.01 ... 0.99``: ``png / 255 >= t``, then
   ``bwmorph(., 'thin', Inf)``;
4. ground truth: ``bwmorph(seg2bmap(gt), 'thin', Inf)``;
5. ``correspondPixels`` with ``maxDist`` = 0.011 (NYUD) / 0.0075 (otherwise,
   e.g. PASCAL-Context) of the image diagonal, giving per-threshold counts
   ``cntR, sumR, cntP, sumP``.

The dataset scores sum the counts over images: ``odsF`` is the best F over
thresholds, ``oisF`` picks each image's best threshold, ``AP`` integrates the
interpolated precision-recall curve at recall ``0:0.01:1`` -- all as in
SEISM's ``gather_measure`` / ``general_ods`` / ``general_ois`` / ``general_ap``.
Scores are returned in percent, like SAK's printout.
"""
from typing import Dict, Sequence, Union

import numpy as np

from .boundary_match import BoundaryMatcher
from .boundary_ops import conv_tri, edge_nms, edge_orientation, seg2bmap, thin, thin_points
from .summation import exact_sum

#: ``maxDist`` of the SEISM fork used by SAK, per dataset.
DATASET_MAX_DIST = {'nyud': 0.011, 'pascal': 0.0075}


def boundary_thresholds(num_thresholds: int = 99) -> np.ndarray:
    """SEISM's thresholds ``k / (num + 1)``, ``k = 1..num`` (0.01 ... 0.99 for 99).

    Args:
        num_thresholds: Number of thresholds K.

    Returns:
        np.ndarray: (K,) float64 thresholds.
    """
    return np.arange(1, num_thresholds + 1, dtype=np.float64) / (num_thresholds + 1)


def prepare_boundary_map(pred: np.ndarray, quantize: bool = True, nms: bool = True,
                         nms_radius: int = 4, nms_border: int = 5,
                         nms_multiplier: float = 1.01) -> np.ndarray:
    """Turn a soft boundary prediction into the map SEISM thresholds.

    Args:
        pred: (H, W) boundary probabilities in [0, 1].
        quantize: Reproduce the official 8-bit PNG round trips (truncation of
            ``pred * 255`` before NMS, rounding after it).
        nms: Apply the SAK NMS step (``nms_process.m``).
        nms_radius: NMS suppression radius (4 in SAK's SEISM fork).
        nms_border: Border damping width of the NMS.
        nms_multiplier: Conservative-suppression multiplier of the NMS.

    Returns:
        np.ndarray: (H, W) float64 map in [0, 1].
    """
    p = np.clip(np.asarray(pred, dtype=np.float32), 0, 1)
    if quantize:
        p = np.floor(p * np.float32(255)) / np.float32(255)
    if nms:
        edge = conv_tri(p, 1)
        p = edge_nms(edge, edge_orientation(edge), r=nms_radius, s=nms_border, m=nms_multiplier)
        if quantize:
            p = np.clip(np.floor(p * np.float32(255) + np.float32(0.5)), 0, 255) / 255.0
    return np.asarray(p, dtype=np.float64)


def boundary_gt(gt: np.ndarray, ignore_index: int = 255, use_seg2bmap: bool = True
                ) -> np.ndarray:
    """Ground-truth boundary map as SEISM builds it.

    Args:
        gt: (H, W) boundary labels 0/1, ``ignore_index`` = ignore (no boundary).
        ignore_index: Ignored label.
        use_seg2bmap: Pass the map through :func:`seg2bmap` first, as SEISM does
            with NYUD's ``Boundaries`` (a line then becomes the thinned band on
            both of its sides).

    Returns:
        np.ndarray: (H, W) bool thinned boundary map.
    """
    gt = np.asarray(gt)
    binary = (gt != ignore_index) & (gt > 0)
    return thin(seg2bmap(binary.astype(np.uint8)) if use_seg2bmap else binary)


def boundary_counts(pred: np.ndarray, gt: np.ndarray, max_dist: float,
                    thresholds: Union[int, Sequence[float]] = 99, ignore_index: int = 255,
                    gt_seg2bmap: bool = True, matcher: str = 'fast', quantize: bool = True,
                    nms: bool = True, nms_radius: int = 4, nms_border: int = 5,
                    nms_multiplier: float = 1.01) -> np.ndarray:
    """Per-threshold match counts of one image.

    Args:
        pred: (H, W) boundary probabilities in [0, 1].
        gt: (H, W) ground truth 0/1 with ``ignore_index``; the prediction is
            zeroed on ignored pixels.
        max_dist: Match tolerance, fraction of the image diagonal.
        thresholds: Number K of SEISM thresholds, or the thresholds.
        ignore_index: Ignored ground-truth label.
        gt_seg2bmap: See :func:`boundary_gt`.
        matcher: ``'fast'`` or ``'bsds'`` (:mod:`.boundary_match`).
        quantize, nms, nms_radius, nms_border, nms_multiplier: See
            :func:`prepare_boundary_map`.

    Returns:
        np.ndarray: (4, K) int64 rows ``[cntR, sumR, cntP, sumP]``.
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f'pred and gt must be (H, W) of the same shape, got {pred.shape} '
                         f'and {gt.shape}')
    thr = (boundary_thresholds(thresholds) if isinstance(thresholds, (int, np.integer))
           else np.asarray(thresholds, dtype=np.float64))
    prob = prepare_boundary_map(pred, quantize=quantize, nms=nms, nms_radius=nms_radius,
                                nms_border=nms_border, nms_multiplier=nms_multiplier)
    prob[gt == ignore_index] = 0
    gt_map = boundary_gt(gt, ignore_index, gt_seg2bmap)
    match = BoundaryMatcher(gt_map, max_dist, matcher)

    flat = prob.reshape(-1)
    on = np.flatnonzero(flat > 0)
    order = on[np.argsort(-flat[on], kind='stable')]
    values = flat[order]  # descending
    num_on = np.searchsorted(-values, -thr, side='right')  # pixels with value >= t
    all_ys, all_xs = np.divmod(order, prob.shape[1])
    match.set_candidates(all_ys, all_xs)
    counts = np.zeros((4, thr.size), dtype=np.int64)
    counts[1] = match.num_gt
    prev = -1
    # From the highest threshold down: the maps grow, and each matching is a
    # good warm start for the next.
    for k in range(thr.size - 1, -1, -1):
        n = num_on[k]
        if n == prev:  # same binary map as the previous threshold
            counts[:, k] = counts[:, k + 1]
            continue
        prev = n
        ys, xs = thin_points(all_ys[:n], all_xs[:n], prob.shape)
        matched = match.count_points(ys, xs)
        counts[0, k] = matched
        counts[2, k] = matched
        counts[3, k] = ys.size
    return counts


def _precision_recall(cnt_r, sum_r, cnt_p, sum_p):
    """SEISM's precision/recall with its conventions for empty maps (vectorised)."""
    cnt_r, sum_r, cnt_p, sum_p = (np.asarray(a, dtype=np.float64)
                                  for a in (cnt_r, sum_r, cnt_p, sum_p))
    rec = np.zeros(np.broadcast(cnt_r, sum_p).shape)
    prec = np.zeros_like(rec)
    no_gt = (sum_r == 0) & (cnt_p == 0)
    rec[no_gt], prec[no_gt] = 1, 0
    no_pred = (sum_p == 0) & (cnt_r == 0)
    rec[no_pred], prec[no_pred] = 0, 1
    ok = (sum_p != 0) & (cnt_r != 0)
    rec[ok] = cnt_r[ok] / sum_r[ok]
    prec[ok] = cnt_p[ok] / sum_p[ok]
    denom = prec + rec
    f = np.where(denom > 0, 2 * prec * rec / np.where(denom > 0, denom, 1), 0.0)
    return prec, rec, f


def _matlab_colon(n: int) -> np.ndarray:
    """MATLAB's ``0:1/n:1`` (symmetric evaluation of the colon operator)."""
    k = np.arange(n + 1)
    return np.where(k <= n // 2, k * (1.0 / n), 1.0 - (n - k) * (1.0 / n))


def boundary_metrics(counts: np.ndarray, thresholds: Union[int, Sequence[float]] = 99
                     ) -> Dict[str, float]:
    """Dataset scores from stacked per-image counts.

    Args:
        counts: (N, 4, K) per-image :func:`boundary_counts`.
        thresholds: K or the thresholds (for ``odsT``).

    Returns:
        dict: ``odsF``, ``odsP``, ``odsR``, ``oisF``, ``AP`` (percent) and
        ``odsT`` (the best threshold).

    Raises:
        ValueError: When ``counts`` is not (N, 4, K) with at least one image.
    """
    counts = np.asarray(counts)
    if counts.ndim != 3 or counts.shape[1] != 4 or not counts.shape[0]:
        raise ValueError(f'counts must be (N, 4, K) with N >= 1, got {counts.shape}')
    thr = (boundary_thresholds(thresholds) if isinstance(thresholds, (int, np.integer))
           else np.asarray(thresholds, dtype=np.float64))
    # Integer counts summed exactly: the scores depend on the set of images only.
    total = exact_sum(counts)
    prec, rec, f = _precision_recall(*total)
    best = int(np.argmax(f))  # first maximum, like MATLAB's max
    # OIS: each image's best threshold (first maximum), counts summed there.
    _, _, f_img = _precision_recall(*counts.transpose(1, 0, 2))
    pick = np.argmax(f_img, axis=1)
    picked = exact_sum(counts[np.arange(counts.shape[0]), :, pick])
    _, _, f_ois = _precision_recall(*picked)
    # AP: precision interpolated at recall 0:0.01:1 over the unique recalls.
    uniq, first = np.unique(rec, return_index=True)
    ap = 0.0
    if uniq.size > 1:
        grid = _matlab_colon(100)
        inside = (grid >= uniq[0]) & (grid <= uniq[-1])
        ap = float(np.interp(grid[inside], uniq, prec[first]).sum() / 100)
    return dict(odsF=float(f[best]) * 100, odsP=float(prec[best]) * 100,
                odsR=float(rec[best]) * 100, odsT=float(thr[best]) if thr.size == f.size
                else float('nan'), oisF=float(f_ois) * 100, AP=ap * 100)
