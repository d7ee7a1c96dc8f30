"""Stage-1 training step with online teachers vs cached teacher features.

For a stage-1 config, :func:`benchmark` writes random images, caches the
teachers' features of one view per image (:func:`extract_teacher_features`;
its images/s and the bytes per view are reported), then one model with built
teachers runs ``model.train_step(batch, optim_wrapper)`` (the runner's step)
on the *same* batch, alternately without ``teacher_feats`` (the teachers run)
and with them (read from the cache), so that the noise of a shared machine hits
both alike. Before that, the loss of both batches on the initial weights is
computed: they must agree (fp16 storage). Pretrained weights are off and
``teacher_init_seed`` is set so that the extraction's and the model's teachers
are the same. ``tools/analysis_tools/benchmark_teacher_cache.py`` is its
command line.
"""
import copy
import os
import os.path as osp
import statistics
import time
from typing import Dict, List

import numpy as np
import torch
from mmengine.config import Config

from sakbox.utils.pretrained import disable_pretrained


def write_images(folder: str, num: int, size_hw) -> None:
    """``num`` random RGB images 1.25x the crop size (PNG)."""
    import cv2
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    h, w = int(size_hw[0] * 1.25), int(size_hw[1] * 1.25)
    for i in range(num):
        path = osp.join(folder, f'img_{i:04d}.png')
        if not osp.isfile(path):
            cv2.imwrite(path, rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def prepare_cfg(path: str, img_dir: str, batch_size: int) -> Config:
    """The config with random weights, seeded teachers and the benchmark images."""
    cfg = Config.fromfile(path)
    disable_pretrained(cfg.model)
    if cfg.model.get('teacher_init_seed') is None:
        cfg.model.teacher_init_seed = 0
    ds = cfg.train_dataloader.dataset
    if ds.get('type') == 'TeacherFeatureCacheDataset':
        raise ValueError(f'{path}: give the online stage-1 config (its cached variant '
                         'shares the model and the schedule)')
    ds.data_root = img_dir
    ds.data_prefix = dict(img_path='')
    ds.pop('ann_file', None)
    cfg.train_dataloader.batch_size = batch_size
    return cfg


def crop_size(cfg: Config):
    """(H, W) of the config's ``RandomResizedCrop``."""
    for t in cfg.train_dataloader.dataset.pipeline:
        if t['type'] in ('RandomResizedCrop', 'SeededViewCrop'):
            size = t['size']
            return (size, size) if isinstance(size, int) else tuple(size)
    raise ValueError('the train pipeline has no RandomResizedCrop')


def first_losses(model, batches: Dict[str, dict]) -> Dict[str, float]:
    """Total loss of each batch on the current weights (same seed, no update)."""
    out = {}
    for name, batch in batches.items():
        data = model.data_preprocessor(copy.deepcopy(batch), True)
        torch.manual_seed(0)
        with torch.no_grad():
            losses = model(**data, mode='loss')
        out[name] = float(sum(v for k, v in losses.items() if k.startswith('loss')))
    return out


def interleaved_steps(model, batches: Dict[str, dict], optim, iters: int,
                      warmup: int) -> Dict[str, List[float]]:
    """Alternate one train step of each batch (shared machine noise hits both alike).

    Returns:
        Dict[str, List[float]]: Seconds of the ``iters`` steps after ``warmup``, per batch.
    """
    times = {name: [] for name in batches}
    for i in range(warmup + iters):
        for name, batch in batches.items():
            torch.manual_seed(i)
            t0 = time.perf_counter()
            model.train_step(copy.deepcopy(batch), optim)
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    return times


def benchmark(path: str, batch_size: int, work_dir: str, iters: int = 3,
              warmup: int = 1) -> Dict[str, object]:
    """Extract a one-view cache, then time the online and the cached step of one config.

    Args:
        path (str): An online stage-1 config.
        batch_size (int): Images (one batch) written, cached and stepped on.
        work_dir (str): Images, dumped config and cache go to ``work_dir/<config>``.
        iters (int): Timed steps of each kind.
        warmup (int): Untimed steps of each kind.

    Returns:
        Dict[str, object]: ``config``, ``batch``, ``online_s``, ``cached_s``,
        ``speedup``, ``loss_online``, ``loss_cached``, ``load_cached_s``,
        ``load_online_s``, ``extract_img_s``, ``bytes_per_view``, ``crop``.
    """
    from mmengine.registry import init_default_scope

    from sakbox.datasets import TeacherFeatureCacheDataset
    from sakbox.datasets.feature_cache.extraction import (
        extract_teacher_features,
        extraction_pipeline,
    )
    from sakbox.datasets.feature_cache.index import CacheIndex
    from sakbox.registry import DATASETS, MODELS
    from sakbox.utils.cli import load_config
    name = osp.splitext(osp.basename(path))[0]
    work = osp.join(work_dir, name)
    img_dir = osp.join(work, 'images')
    probe_cfg = Config.fromfile(path)
    write_images(img_dir, batch_size, crop_size(probe_cfg))
    cfg = prepare_cfg(path, img_dir, batch_size)
    cfg_path = osp.join(work, 'config.py')
    cfg.dump(cfg_path)
    # The dump sorts dict keys, teachers included (their order fixes the experts and
    # the init seeds): build everything from the dumped file, as the extraction does.
    cfg = Config.fromfile(cfg_path)
    cache_dir = osp.join(work, 'cache')
    t0 = time.perf_counter()
    init_default_scope('sakbox')
    extract_teacher_features(load_config(cfg_path), out=cache_dir, views=1, seed=0,
                             shard_size=batch_size, batch_size=min(batch_size, 8),
                             num_workers=0, config_name=osp.basename(cfg_path))
    extract_s = time.perf_counter() - t0
    index = CacheIndex.load(cache_dir)

    init_default_scope('sakbox')
    inner = copy.deepcopy(cfg.train_dataloader.dataset.to_dict())
    inner['pipeline'] = extraction_pipeline(inner['pipeline'], seed=0)
    dataset = TeacherFeatureCacheDataset(inner, cache_dir, view=0,
                                         teachers=cfg.model.teachers.to_dict())
    online_ds = DATASETS.build(inner)
    t0 = time.perf_counter()
    items = [dataset[i] for i in range(batch_size)]
    load_cached_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(batch_size):
        info = online_ds.get_data_info(i)
        info['view_params'] = dataset.cache.view_params(i, 0)
        online_ds.pipeline(info)
    load_online_s = time.perf_counter() - t0
    cached = dict(inputs=[it['inputs'] for it in items],
                  data_samples=[it['data_samples'] for it in items])
    online = copy.deepcopy(cached)
    for s in online['data_samples']:
        del s.teacher_feats

    from mmengine.optim import build_optim_wrapper
    model = MODELS.build(cfg.model)
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    losses = first_losses(model, dict(online=online, cached=cached))
    times = interleaved_steps(model, dict(online=online, cached=cached), optim, iters,
                              warmup)
    online_s, cached_s = statistics.median(times['online']), statistics.median(times['cached'])
    return dict(config=name, batch=batch_size, online_s=online_s, cached_s=cached_s,
                speedup=online_s / cached_s,
                loss_online=losses['online'], loss_cached=losses['cached'],
                load_cached_s=load_cached_s, load_online_s=load_online_s,
                extract_img_s=index.num_images / extract_s,
                bytes_per_view=index.bytes_per_view(), crop=crop_size(cfg))
