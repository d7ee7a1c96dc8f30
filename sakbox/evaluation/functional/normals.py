"""Surface-normal angular-error statistics.

Follows the official SAK ``NormalsMeter``: prediction and ground truth are
L2-normalised (a zero vector stays zero), the error is
``2 * atan2(|p - g|, |p + g|)`` in degrees (numerically stable form of the
angle between the vectors) and pixels whose ground truth is the zero vector
are ignored. The mean error is pooled over all valid pixels of the dataset.
The median comes from a per-image histogram (so that per-image results stay
small); it is exact to within the histogram's bin width (0.05 degrees by
default), everything else is exact.
"""
from typing import Dict, Tuple

import numpy as np

#: Order of the entries of the first array returned by :func:`normals_stats`.
NORMALS_STAT_NAMES = ('n', 'sum_deg', 'sum_sq_deg', 'n_11.25', 'n_22.5', 'n_30')
_THRESHOLDS = (11.25, 22.5, 30.0)


def angular_error(pred: np.ndarray, gt: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-pixel angle between predicted and ground-truth normals.

    Args:
        pred: (3, H, W) predicted normals (need not be unit length).
        gt: (3, H, W) ground-truth normals; the zero vector marks invalid pixels.

    Returns:
        tuple: ``(errors, valid)``: (H, W) float64 angles in degrees and the
        (H, W) bool mask of valid pixels.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.ndim != 3 or pred.shape[0] != 3 or pred.shape != gt.shape:
        raise ValueError(f'normals must both be (3, H, W); got pred {pred.shape}, gt {gt.shape}')
    p_norm = np.linalg.norm(pred, axis=0, keepdims=True)
    g_norm = np.linalg.norm(gt, axis=0, keepdims=True)
    p = np.divide(pred, p_norm, out=np.zeros_like(pred), where=p_norm > 0)
    g = np.divide(gt, g_norm, out=np.zeros_like(gt), where=g_norm > 0)
    err = np.degrees(2 * np.arctan2(np.linalg.norm(p - g, axis=0), np.linalg.norm(p + g, axis=0)))
    valid = (g_norm[0] > 0) & np.isfinite(g_norm[0])
    return err, valid


def normals_stats(pred: np.ndarray, gt: np.ndarray,
                  bin_width: float = 0.05) -> Tuple[np.ndarray, np.ndarray]:
    """Sums and an error histogram over the valid pixels of one image.

    Args:
        pred: (3, H, W) predicted normals.
        gt: (3, H, W) ground-truth normals, zero vector = invalid.
        bin_width: Histogram bin width in degrees (for the median).

    Returns:
        tuple: (6,) float64 sums in :data:`NORMALS_STAT_NAMES` order and an
        int64 histogram of the errors over ``[0, 180]`` with
        ``ceil(180 / bin_width)`` bins.
    """
    err, valid = angular_error(pred, gt)
    e = err[valid]
    num_bins = int(np.ceil(180.0 / bin_width))
    hist = np.bincount(np.minimum((e / bin_width).astype(np.int64), num_bins - 1),
                       minlength=num_bins).astype(np.int64)
    stats = np.array([e.size, e.sum(), np.square(e).sum()]
                     + [(e < t).sum() for t in _THRESHOLDS], dtype=np.float64)
    return stats, hist


def histogram_median(hist: np.ndarray, bin_width: float) -> float:
    """Median of values summarised by a histogram, linearly interpolated in its bin.

    Args:
        hist: (B,) counts of bins ``[i * bin_width, (i + 1) * bin_width)``.
        bin_width: Bin width.

    Returns:
        float: The interpolated median, NaN for an empty histogram.
    """
    hist = np.asarray(hist, dtype=np.float64)
    n = hist.sum()
    if n <= 0:
        return float('nan')
    cum = np.cumsum(hist)
    half = n / 2.0
    b = int(np.searchsorted(cum, half, side='left'))
    before = cum[b - 1] if b > 0 else 0.0
    return float((b + (half - before) / hist[b]) * bin_width)


def normals_metrics(total: np.ndarray, hist: np.ndarray, bin_width: float = 0.05
                    ) -> Dict[str, float]:
    """Dataset metrics from summed :func:`normals_stats`.

    Args:
        total: (6,) summed statistics.
        hist: Summed histogram.
        bin_width: The histogram's bin width in degrees.

    Returns:
        dict: ``mErr`` (mean angular error, degrees; the official metric),
        ``medErr``, ``rmsErr`` (degrees) and ``11.25``, ``22.5``, ``30``
        (percent of valid pixels with an error below that many degrees).
    """
    total = np.asarray(total, dtype=np.float64)
    n = total[0]
    if n <= 0:
        return {k: float('nan') for k in ('mErr', 'medErr', 'rmsErr', '11.25', '22.5', '30')}
    return {
        'mErr': float(total[1] / n),
        'medErr': histogram_median(hist, bin_width),
        'rmsErr': float(np.sqrt(total[2] / n)),
        '11.25': float(total[3] / n * 100),
        '22.5': float(total[4] / n * 100),
        '30': float(total[5] / n * 100),
    }
