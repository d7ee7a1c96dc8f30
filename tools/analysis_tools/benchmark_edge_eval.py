"""Time the boundary (odsF) evaluation on synthetic NYUD-sized data.

Draws ``--num-images`` random scenes of ``--size`` pixels (filled circles and
polygons), takes their thinned label boundaries as ground truth and makes a
noisy soft prediction of each (boundaries displaced by up to 2 px, blurred,
partly missing, plus smooth "texture" responses and pixel noise), then runs
them through :class:`sakbox.evaluation.EdgeMetric` exactly as a validation
loop does (``process`` per batch, ``evaluate`` at the end) and prints the
wall-clock seconds. The data come from :mod:`sakbox.analysis.synthetic_edges`.

Example::

    python tools/analysis_tools/benchmark_edge_eval.py --num-images 654 --nproc 2
"""
import argparse
import os.path as osp
import resource
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from sakbox.analysis.synthetic_edges import synthetic_edge_batches  # noqa: E402
from sakbox.evaluation import EdgeMetric  # noqa: E402


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


def main() -> None:
    """Entry point."""
    args = parse_args()
    metric = EdgeMetric(dataset=args.dataset, matcher=args.matcher, nproc=args.nproc)
    gen_seconds = 0.0
    gt_pixels = 0
    start = time.perf_counter()
    it = synthetic_edge_batches(args.num_images, tuple(args.size), args.batch_size, args.seed)
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
