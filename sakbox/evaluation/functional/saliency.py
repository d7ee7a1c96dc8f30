"""Saliency statistics: dataset-accumulated max F-measure and per-image IoU.

Follows the official SAK ``SaliencyMeter``: thresholds ``0.05, 0.10, ...,
0.95`` (exactly ``torch.arange(0.05, 1, 0.05)`` in float32), a pixel is
predicted salient when ``pred >= threshold``; true/predicted/actual positive
counts are summed over the dataset, ``F = (1 + b2) P R / (b2 P + R)`` with
``b2 = 0.3`` and ``maxF`` is its maximum over the thresholds. ``mIoU`` is the
official one too: the per-image IoU averaged over images, maximised over the
thresholds. Ground truth ``ignore_index`` pixels are skipped.
"""
from typing import Dict, Tuple

import numpy as np
import torch

from .summation import exact_sum


def saliency_thresholds(step: float = 0.05) -> np.ndarray:
    """The official thresholds ``torch.arange(step, 1, step)`` as float32.

    Args:
        step: Threshold step.

    Returns:
        np.ndarray: (T,) float32 thresholds (19 for the default step).
    """
    return torch.arange(step, 1, step, dtype=torch.float32).numpy()


def saliency_stats(pred: np.ndarray, gt: np.ndarray, thresholds: np.ndarray,
                   ignore_index: int = 255) -> Tuple[np.ndarray, np.ndarray]:
    """Counts and IoUs of one image at every threshold (and at 0.5).

    Args:
        pred: Saliency probabilities in [0, 1], (H, W) or (1, H, W).
        gt: Ground truth 0/1 with ``ignore_index``, same shape.
        thresholds: (T,) thresholds.
        ignore_index: Ground-truth value to skip.

    Returns:
        tuple: (3, T) int64 ``[true_pos, pred_pos, gt_pos]`` and (T + 1,)
        float64 IoUs at each threshold followed by the IoU at 0.5 (NaN where
        prediction and ground truth are both empty).
    """
    pred = np.asarray(pred, dtype=np.float32).reshape(-1)
    gt = np.asarray(gt).reshape(-1)
    valid = gt != ignore_index
    p = pred[valid]
    g = gt[valid] > 0
    thr = np.append(np.asarray(thresholds, dtype=np.float32), np.float32(0.5))
    binary = p[None, :] >= thr[:, None]  # (T + 1, N)
    tp = (binary & g[None]).sum(1)
    pp = binary.sum(1)
    gp = np.full_like(tp, g.sum())
    union = pp + gp - tp
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = np.where(union > 0, tp / np.maximum(union, 1), np.nan)
    counts = np.stack([tp[:-1], pp[:-1], gp[:-1]]).astype(np.int64)
    return counts, iou.astype(np.float64)


def saliency_metrics(total_counts: np.ndarray, ious: np.ndarray, beta_sq: float = 0.3,
                     thresholds: np.ndarray = None) -> Dict[str, float]:
    """Dataset metrics from summed counts and stacked per-image IoUs.

    Args:
        total_counts: (3, T) counts summed over the dataset.
        ious: (N, T + 1) per-image IoUs from :func:`saliency_stats`.
        beta_sq: The F-measure's beta squared (0.3 in the saliency literature).
        thresholds: Optional (T,) thresholds, to report the best one.

    Returns:
        dict: ``maxF`` (percent, the official metric), ``mIoU`` (percent,
        official: best threshold's mean per-image IoU), ``mIoU@0.5`` and,
        when ``thresholds`` is given, ``maxF_threshold``.
    """
    tp, pp, gp = np.asarray(total_counts, dtype=np.float64)
    precision = tp / (pp + 1e-8)
    recall = tp / (gp + 1e-8)
    f = (1 + beta_sq) * precision * recall / (beta_sq * precision + recall + 1e-8)
    f = np.nan_to_num(f, nan=0.0)
    ious = np.asarray(ious, dtype=np.float64).reshape(-1, tp.size + 1)
    valid = np.isfinite(ious)
    # exact_sum: the mean over images must not depend on their order
    sum_iou = exact_sum(np.where(valid, ious, 0.0)) if ious.shape[0] else np.zeros(tp.size + 1)
    mean_iou = np.where(valid.any(0), sum_iou / np.maximum(valid.sum(0), 1), np.nan)
    out = dict(maxF=float(f.max()) * 100,
               mIoU=float(np.nanmax(mean_iou[:-1])) * 100
               if np.isfinite(mean_iou[:-1]).any() else float('nan'),
               **{'mIoU@0.5': float(mean_iou[-1]) * 100})
    if thresholds is not None:
        out['maxF_threshold'] = float(np.asarray(thresholds)[int(np.argmax(f))])
    return out
