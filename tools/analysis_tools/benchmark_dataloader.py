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
from mmengine.registry import DATA_SAMPLERS, DATASETS, FUNCTIONS, init_default_scope  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

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


def build_dataloader(cfg: dict) -> DataLoader:
    """Build a DataLoader from an MMEngine dataloader config, as the Runner does.

    (``Runner.build_dataloader`` itself would pull in all of ``mmengine.runner``,
    which takes longer to import than the benchmark takes to run.)
    """
    cfg = dict(cfg)
    dataset = DATASETS.build(cfg.pop('dataset'))
    sampler = DATA_SAMPLERS.build(cfg.pop('sampler'), default_args=dict(dataset=dataset))
    collate = cfg.pop('collate_fn', dict(type='pseudo_collate'))
    collate_fn = FUNCTIONS.get(collate.pop('type'))
    if collate:
        import functools
        collate_fn = functools.partial(collate_fn, **collate)
    return DataLoader(dataset, sampler=sampler, collate_fn=collate_fn, **cfg)


def benchmark(dataloader_cfg: dict, num_batches: int) -> dict:
    """Time a dataloader built from ``dataloader_cfg``.

    The first batch (worker start-up, first file reads) is timed separately;
    the dataloader is cycled if it has fewer than ``num_batches`` batches.

    Args:
        dataloader_cfg: An MMEngine dataloader config.
        num_batches: Batches to time after the first.

    Returns:
        dict: ``first_batch_s``, ``images``, ``seconds``, ``images_per_s``.
    """
    loader = build_dataloader(dataloader_cfg)
    start = time.perf_counter()
    it = iter(loader)
    batch = next(it)
    first = time.perf_counter() - start
    images, start, cpu = 0, time.perf_counter(), time.process_time()
    for _ in range(num_batches):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        images += len(batch['inputs'])
    seconds = time.perf_counter() - start
    res = dict(first_batch_s=first, images=images, seconds=seconds,
               images_per_s=images / max(seconds, 1e-9))
    if loader.num_workers == 0:
        # In-process loading: CPU time per image does not depend on how busy the machine is.
        res['cpu_ms_per_image'] = 1000 * (time.process_time() - cpu) / max(images, 1)
    return res


def pipeline_cpu_cost(dataloader_cfg: dict, num_samples: int = 20) -> float:
    """CPU milliseconds one sample costs in the pipeline, measured in this process.

    Unlike wall-clock throughput it does not depend on the machine's load, so
    ``1000 / cost * cores`` bounds the images/s a loader can reach on idle cores.
    """
    dataset = DATASETS.build(dict(dataloader_cfg['dataset']))
    dataset[0]  # first-call imports and caches
    start = time.process_time()
    for i in range(num_samples):
        dataset[i % len(dataset)]
    return 1000 * (time.process_time() - start) / num_samples


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
        res = benchmark(dl.to_dict(), args.num_batches)
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
