"""Confusion statistics and IoU for label maps (semantic segmentation, human parts).

The per-image statistics are mmseg's (``IoUMetric.intersect_and_union``); the
dataset-level numbers follow the official SAK meters (``eval_semseg.py`` /
``eval_human_parts.py``): IoU of a class is ``TP / (TP + FP + FN)`` over the
whole dataset and a class that never occurs in ground truth nor prediction
counts as IoU 0 in the mean (``absent_class_iou='zero'``).
"""
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]


def segmentation_areas(pred: ArrayLike, gt: ArrayLike, num_classes: int,
                       ignore_index: int = 255) -> np.ndarray:
    """Per-class intersection, union, predicted and ground-truth areas of one image.

    Pixels whose ground truth is ``ignore_index`` are skipped; predicted labels
    outside ``[0, num_classes)`` count for no class (as in the official meters).

    Args:
        pred: Predicted labels, any shape, e.g. (H, W) or (1, H, W).
        gt: Ground-truth labels, same shape as ``pred``.
        num_classes: Number of classes K.
        ignore_index: Ground-truth label to ignore.

    Returns:
        np.ndarray: (4, K) int64 rows ``[intersect, union, pred_area, gt_area]``.
    """
    from mmseg.evaluation.metrics import IoUMetric  # lazy: mmseg pulls in mmcv

    pred_t = torch.as_tensor(pred).detach().cpu().reshape(-1).long()
    gt_t = torch.as_tensor(gt).detach().cpu().reshape(-1).long()
    areas = IoUMetric.intersect_and_union(pred_t, gt_t, num_classes, ignore_index)
    return torch.stack(areas).round().to(torch.int64).numpy()


def segmentation_metrics(total_areas: np.ndarray, absent_class_iou: str = 'zero',
                         class_names: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """Dataset-level metrics from summed :func:`segmentation_areas`.

    Args:
        total_areas: (4, K) areas summed over the dataset.
        absent_class_iou: How a class with an empty union (absent from both
            ground truth and prediction) enters the mean: ``'zero'`` counts it
            as 0 (official SAK meters), ``'ignore'`` leaves it out (mmseg).
        class_names: Optional K names for the per-class results.

    Returns:
        dict: ``mIoU``, ``aAcc``, ``mAcc`` (percent) and ``IoU`` (K,) per-class
        IoU in percent (NaN for an empty union), plus ``classes``.
    """
    from mmseg.evaluation.metrics import IoUMetric

    if absent_class_iou not in ('zero', 'ignore'):
        raise ValueError(f"absent_class_iou must be 'zero' or 'ignore', got {absent_class_iou!r}")
    total_areas = np.asarray(total_areas, dtype=np.float64)
    if total_areas.ndim != 2 or total_areas.shape[0] != 4:
        raise ValueError(f'total_areas must have shape (4, K), got {total_areas.shape}')
    intersect, union, pred_area, gt_area = (torch.from_numpy(a) for a in total_areas)
    mm = IoUMetric.total_area_to_metrics(intersect, union, pred_area, gt_area,
                                         metrics=['mIoU'])
    iou = np.asarray(mm['IoU'], dtype=np.float64)
    acc = np.asarray(mm['Acc'], dtype=np.float64)
    if absent_class_iou == 'zero':
        miou = float(np.nan_to_num(iou, nan=0.0).mean())
    else:
        miou = float(np.nanmean(iou)) if np.isfinite(iou).any() else float('nan')
    num_classes = total_areas.shape[1]
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f'{len(names)} class names given for {num_classes} classes')
    return dict(
        mIoU=miou * 100,
        aAcc=float(mm['aAcc']) * 100,
        mAcc=float(np.nanmean(acc)) * 100 if np.isfinite(acc).any() else float('nan'),
        IoU=iou * 100,
        classes=names)
