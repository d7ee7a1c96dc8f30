"""Depth-estimation statistics, pooled over all valid pixels of a dataset.

Follows the official SAK ``DepthMeter``: a pixel is valid when
``min_depth < gt < max_depth`` (0 and 80 m), a prediction ``<= 0`` is replaced
by 1e-9, and RMSE is ``sqrt(sum of squared errors / number of valid pixels)``
over the whole dataset (not a mean of per-image RMSEs). The extra metrics use
the same valid pixels and the same pooling.
"""
from typing import Dict

import numpy as np

#: Order of the entries of :func:`depth_stats`.
DEPTH_STAT_NAMES = ('n', 'sq_err', 'abs_rel', 'sq_rel', 'log10', 'sq_log', 'delta1', 'delta2',
                    'delta3')


def depth_stats(pred: np.ndarray, gt: np.ndarray, min_depth: float = 0.0,
                max_depth: float = 80.0) -> np.ndarray:
    """Sums over the valid pixels of one image.

    Args:
        pred: Predicted depth in metres, (H, W) or (1, H, W).
        gt: Ground-truth depth in metres, same shape; invalid where it is not
            in the open interval ``(min_depth, max_depth)``.
        min_depth: Exclusive lower bound of valid ground truth.
        max_depth: Exclusive upper bound of valid ground truth.

    Returns:
        np.ndarray: (9,) float64 sums in :data:`DEPTH_STAT_NAMES` order: valid
        pixel count, squared error, absolute relative error, squared relative
        error, |log10 ratio|, squared natural-log ratio, and the counts with
        ``max(p/g, g/p)`` below 1.25, 1.25**2 and 1.25**3.
    """
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1)
    valid = (gt > min_depth) & (gt < max_depth)
    p = pred[valid]
    g = gt[valid]
    p = np.where(p <= 0, 1e-9, p)
    diff = p - g
    ratio = np.maximum(p / g, g / p)
    log_ratio = np.log(p) - np.log(g)
    return np.array([
        valid.sum(),
        np.square(diff).sum(),
        (np.abs(diff) / g).sum(),
        (np.square(diff) / g).sum(),
        np.abs(np.log10(p) - np.log10(g)).sum(),
        np.square(log_ratio).sum(),
        (ratio < 1.25).sum(),
        (ratio < 1.25 ** 2).sum(),
        (ratio < 1.25 ** 3).sum(),
    ], dtype=np.float64)


def depth_metrics(total: np.ndarray) -> Dict[str, float]:
    """Dataset metrics from summed :func:`depth_stats`.

    Args:
        total: (9,) sums over the dataset.

    Returns:
        dict: ``RMSE`` (m, the official metric), ``absRel``, ``sqRel``,
        ``log10``, ``RMSElog`` and ``delta1``/``delta2``/``delta3`` (percent of
        valid pixels). NaN when no pixel was valid.
    """
    total = np.asarray(total, dtype=np.float64)
    n = total[0]
    if n <= 0:
        return {k: float('nan') for k in ('RMSE', 'absRel', 'sqRel', 'log10', 'RMSElog',
                                         'delta1', 'delta2', 'delta3')}
    return dict(
        RMSE=float(np.sqrt(total[1] / n)),
        absRel=float(total[2] / n),
        sqRel=float(total[3] / n),
        log10=float(total[4] / n),
        RMSElog=float(np.sqrt(total[5] / n)),
        delta1=float(total[6] / n * 100),
        delta2=float(total[7] / n * 100),
        delta3=float(total[8] / n * 100))
