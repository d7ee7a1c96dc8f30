"""Measure DataLoader throughput (images/s) of a config's training dataloader.

Without a config it renders a small synthetic NYUD-v2 set at the real 480x640
resolution into a temporary folder and times the NYUD training pipeline of
``configs/_base_/datasets/nyud.py`` (448x576 crops) with 2 workers::

    python tools/analysis_tools/benchmark_dataloader.py
    python tools/analysis_tools/benchmark_dataloader.py configs/_base_/datasets/synthetic_nyud.py \
        --num-workers 2 --num-batches 50
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from sakbox.analysis.dataloader_benchmark import benchmark_dataloader, pipeline_cpu_cost  # noqa: E402

REPO = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..')
DEFAULT_CONFIG = osp.join(REPO, 'configs', '_base_', 'datasets', 'nyud.py')


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='config with a train_dataloader (default: '
                        'the NYUD-v2 pipeline on generated synthetic data)')
    parser.add_argument('--num-workers', type=int, default=2, help='DataLoader workers')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='override the config batch size')
    parser.add_argument('--num-batches', type=int, default=40,
                        help='batches to time after the first (warm-up) one')
    parser.add_argument('--num-images', type=int, default=40,
                        help='synthetic images to generate when no config is given')
    parser.add_argument('--size', type=int, nargs=2, default=(480, 640), metavar=('H', 'W'),
                        help='synthetic image size when no config is given')
    parser.add_argument('--data-root', help='override the dataset data_root')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    """Entry point; returns the figures it prints."""
    args = parse_args(argv)
    init_default_scope('sakbox')
    tmp = None
    cfg = Config.fromfile(args.config or DEFAULT_CONFIG)
    dl = cfg.train_dataloader
    if args.config is None and args.data_root is None:
        from sakbox.datasets.synthetic import generate_synthetic_dataset
        tmp = tempfile.TemporaryDirectory(prefix='sakbox_bench_')
        start = time.perf_counter()
        generate_synthetic_dataset('nyud', tmp.name, num_train=args.num_images, num_val=0,
                                   size=args.size, seed=0)
        print(f'generated {args.num_images} synthetic NYUD images of {args.size[0]}x'
              f'{args.size[1]} in {time.perf_counter() - start:.1f} s')
        dl.dataset.data_root = tmp.name
    elif args.data_root:
        dl.dataset.data_root = args.data_root
    dl.num_workers = args.num_workers
    dl.persistent_workers = args.num_workers > 0
    if args.batch_size:
        dl.batch_size = args.batch_size
    crop = next((t.get('crop_size') for t in dl.dataset.pipeline
                 if t['type'] == 'MultiTaskRandomCrop'), None)
    try:
        res = benchmark_dataloader(dl.to_dict(), args.num_batches)
        res.setdefault('cpu_ms_per_image', pipeline_cpu_cost(dl.to_dict()))
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(f'dataset {dl.dataset.type} at {dl.dataset.data_root}, crop {crop}, batch size '
          f'{dl.batch_size}, {args.num_workers} workers')
    print(f'first batch: {res["first_batch_s"]:.2f} s (worker start-up)')
    print(f'throughput: {res["images_per_s"]:.1f} images/s '
          f'({res["images"]} images in {res["seconds"]:.2f} s, '
          f'{1000 * res["seconds"] / max(res["images"], 1):.1f} ms/image)')
    cost = res['cpu_ms_per_image']
    print(f'pipeline CPU cost: {cost:.1f} ms/image, i.e. at most {1000 / cost:.1f} images/s '
          f'per idle core (load average now: {os.getloadavg()[0]:.1f})')
    return res


if __name__ == '__main__':
    main()
