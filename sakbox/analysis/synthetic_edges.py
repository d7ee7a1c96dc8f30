"""Synthetic boundary predictions and ground truth, for timing the odsF evaluation."""
from typing import Iterator, Tuple

import cv2
import numpy as np
import torch

from sakbox.evaluation.functional import seg2bmap, thin
from sakbox.structures import MultiTaskDataSample

__all__ = ['synthetic_edge_pair', 'synthetic_edge_batches']


def synthetic_edge_pair(rng: np.random.Generator, h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
    """One synthetic (prediction, ground truth) pair.

    A random scene of filled circles and polygons; its thinned label boundaries
    are the ground truth, the prediction is a noisy soft copy (shifted up to
    2 px, partly missing, blurred, plus smooth texture and pixel noise).

    Args:
        rng: The random generator.
        h: Height.
        w: Width.

    Returns:
        tuple: (H, W) float32 soft prediction in [0, 1] and (H, W) uint8 0/1
        ground-truth boundaries.
    """
    labels = np.zeros((h, w), np.int32)
    for k in range(1, int(rng.integers(12, 25))):
        centre = rng.integers(0, [w, h])
        if rng.random() < 0.5:
            cv2.circle(labels, (int(centre[0]), int(centre[1])),
                       int(rng.integers(15, min(h, w) // 3)), k, -1)
        else:
            pts = centre + rng.integers(-w // 5, w // 5, (int(rng.integers(3, 7)), 2))
            cv2.fillPoly(labels, [pts.astype(np.int32)], k)
    gt = thin(seg2bmap(labels)).astype(np.uint8)
    shift = rng.integers(-2, 3, 2)
    pred = np.roll(gt, (int(shift[0]), int(shift[1])), (0, 1)).astype(np.float32)
    missing = cv2.resize((rng.random((h // 32, w // 32)) < 0.2).astype(np.uint8), (w, h),
                         interpolation=cv2.INTER_NEAREST)
    pred[missing > 0] = 0
    pred = cv2.GaussianBlur(pred, (0, 0), 1.5)
    pred *= rng.uniform(0.6, 1.0) / max(float(pred.max()), 1e-6)
    texture = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 3)
    texture = (texture - texture.min()) / max(float(np.ptp(texture)), 1e-6)
    pred += 0.3 * texture ** 2 + 0.1 * rng.random((h, w)).astype(np.float32)
    return np.clip(pred, 0, 1).astype(np.float32), gt


def synthetic_edge_batches(num: int, size: Tuple[int, int], batch_size: int, seed: int
            ) -> Iterator[list]:
    """Batches of data samples with ``pred_edge`` / ``gt_edge`` (:func:`synthetic_edge_pair`).

    Args:
        num: Samples in all.
        size: (H, W).
        batch_size: Samples per batch (the last may be smaller).
        seed: Seed of the generator.

    Yields:
        list: ``MultiTaskDataSample`` batches.
    """
    rng = np.random.default_rng(seed)
    batch = []
    for i in range(num):
        pred, gt = synthetic_edge_pair(rng, *size)
        sample = MultiTaskDataSample(metainfo=dict(img_path=f'synthetic_{i:04d}.png'))
        sample.set_pred('edge', torch.from_numpy(pred)[None])
        sample.set_gt('edge', torch.from_numpy(gt.astype(np.int64))[None])
        batch.append(sample)
        if len(batch) == batch_size or i == num - 1:
            yield batch
            batch = []
