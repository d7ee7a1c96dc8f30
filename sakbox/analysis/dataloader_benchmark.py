"""DataLoader throughput and pipeline CPU cost: the logic of ``benchmark_dataloader.py``."""
import functools
import time

from mmengine.registry import DATA_SAMPLERS, DATASETS, FUNCTIONS
from torch.utils.data import DataLoader

__all__ = ['build_dataloader', 'benchmark_dataloader', 'pipeline_cpu_cost']


def build_dataloader(cfg: dict) -> DataLoader:
    """Build a DataLoader from an MMEngine dataloader config, as the Runner does.

    (``Runner.build_dataloader`` itself would pull in all of ``mmengine.runner``,
    which takes longer to import than the benchmark takes to run.) Build under
    the ``sakbox`` default scope.

    Args:
        cfg: An MMEngine dataloader config (``dataset``, ``sampler``, optional
            ``collate_fn``, DataLoader keyword arguments).

    Returns:
        DataLoader: The loader.
    """
    cfg = dict(cfg)
    dataset = DATASETS.build(cfg.pop('dataset'))
    sampler = DATA_SAMPLERS.build(cfg.pop('sampler'), default_args=dict(dataset=dataset))
    collate = cfg.pop('collate_fn', dict(type='pseudo_collate'))
    collate_fn = FUNCTIONS.get(collate.pop('type'))
    if collate:
        collate_fn = functools.partial(collate_fn, **collate)
    return DataLoader(dataset, sampler=sampler, collate_fn=collate_fn, **cfg)


def benchmark_dataloader(dataloader_cfg: dict, num_batches: int) -> dict:
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

    Args:
        dataloader_cfg: An MMEngine dataloader config (its ``dataset`` is built).
        num_samples: Samples read (cycling the dataset) after one untimed read.

    Returns:
        float: CPU milliseconds per sample.
    """
    dataset = DATASETS.build(dict(dataloader_cfg['dataset']))
    dataset[0]  # first-call imports and caches
    start = time.process_time()
    for i in range(num_samples):
        dataset[i % len(dataset)]
    return 1000 * (time.process_time() - start) / num_samples
