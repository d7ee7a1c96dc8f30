"""Time the boundary (odsF) evaluation on synthetic NYUD-sized data.

Draws ``--num-images`` random scenes of ``--size`` pixels (filled circles and
polygons), takes their thinned label boundaries as ground truth and makes a
noisy soft prediction of each (boundaries displaced by up to 2 px, blurred,
partly missing, plus smooth "texture" responses and pixel noise), then runs
them through :class:`sakbox.evaluation.EdgeMetric` exactly as a validation
loop does (``process`` per batch, ``evaluate`` at the end) and prints the
wall-clock seconds.

Example::

    python tools/analysis_tools/benchmark_edge_eval.py --num-images 654 --nproc 2
"""
import argparse
import os.path as osp
import resource
import sys
import time
from typing import Iterator, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from sakbox.evaluation import EdgeMetric  # noqa: E402
from sakbox.evaluation.functional import seg2bmap, thin  # noqa: E402
from sakbox.structures import MultiTaskDataSample  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--num-images', type=int, default=654, help='NYUD-v2 val has 654')
    parser.add_argument('--size', type=int, nargs=2, default=[480, 640], metavar=('H', 'W'))
    parser.add_argument('--nproc', type=int, default=2, help='EdgeMetric worker processes')
    parser.add_argument('--dataset', default='nyud', choices=['nyud', 'pascal'],
                        help='sets max_dist (0.011 / 0.0075)')
    parser.add_argument('--matcher', default='fast', choices=['fast', 'bsds'])
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def synthetic_pair(rng: np.random.Generator, h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
    """One synthetic (prediction, ground truth) pair.

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


def batches(num: int, size: Tuple[int, int], batch_size: int, seed: int
            ) -> Iterator[list]:
    """Batches of data samples with ``pred_edge`` / ``gt_edge``."""
    import torch
    rng = np.random.default_rng(seed)
    batch = []
    for i in range(num):
        pred, gt = synthetic_pair(rng, *size)
        sample = MultiTaskDataSample(metainfo=dict(img_path=f'synthetic_{i:04d}.png'))
        sample.set_pred('edge', torch.from_numpy(pred)[None])
        sample.set_gt('edge', torch.from_numpy(gt.astype(np.int64))[None])
        batch.append(sample)
        if len(batch) == batch_size or i == num - 1:
            yield batch
            batch = []


def main() -> None:
    args = parse_args()
    metric = EdgeMetric(dataset=args.dataset, matcher=args.matcher, nproc=args.nproc)
    gen_seconds = 0.0
    gt_pixels = 0
    start = time.perf_counter()
    it = batches(args.num_images, tuple(args.size), args.batch_size, args.seed)
    while True:
        t0 = time.perf_counter()
        batch = next(it, None)
        gen_seconds += time.perf_counter() - t0
        if batch is None:
            break
        gt_pixels += sum(int(s.gt_edge.data.sum()) for s in batch)
        metric.process({}, batch)
    scores = metric.evaluate(args.num_images)  # waits for the workers and reaps them
    total = time.perf_counter() - start
    main_cpu = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = workers.ru_utime + workers.ru_stime
    h, w = args.size
    print(f'{args.num_images} synthetic {h}x{w} maps, dataset={args.dataset} '
          f'(max_dist {metric.max_dist}), matcher={args.matcher}, nproc={args.nproc}')
    print(f'ground-truth boundary density: {100 * gt_pixels / (args.num_images * h * w):.2f} %')
    print('scores: ' + ', '.join(f'{k}={v:.2f}' for k, v in scores.items()))
    print(f'data generation (main process): {gen_seconds:.1f} s')
    print(f'main process CPU: {main_cpu.ru_utime + main_cpu.ru_stime:.1f} s; worker CPU: '
          f'{worker_cpu:.1f} s ({worker_cpu / args.num_images:.2f} s per image)')
    print(f'total wall-clock: {total:.1f} s ({total / args.num_images:.2f} s per image)')


if __name__ == '__main__':
    main()
