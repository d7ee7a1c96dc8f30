"""Extracting a teacher-feature cache from a distillation config.

``tools/extract_teacher_features.py`` is the command line of
:func:`extract_teacher_features`: the config's teachers run once over fixed
views of its training images (``SeededViewCrop``), shards are written
resumably, rank ``r`` of ``W`` takes shards ``r, r + W, ...``.
"""
import copy
import os
import os.path as osp
import time
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn

#: Transforms that are deterministic, hence allowed in an extraction pipeline.
DETERMINISTIC = ('LoadImageFromFile', 'LoadMultiTaskAnnotations', 'SeededViewCrop',
                 'MultiTaskResize', 'MultiTaskPad', 'AddIgnoreRegions', 'PackMultiTaskInputs')
CACHE_WRAPPER = 'TeacherFeatureCacheDataset'


def extraction_pipeline(pipeline: List[dict], seed: int) -> List[dict]:
    """An online stage-1 pipeline with its random view replaced by ``SeededViewCrop``.

    ``RandomResizedCrop`` (followed by an optional horizontal
    ``MultiTaskRandomFlip``) becomes ``SeededViewCrop`` with the same size,
    scale, ratio, flip probability, interpolation and resize backend; a
    ``SeededViewCrop`` is kept (its seed set to ``seed``).

    Args:
        pipeline (List[dict]): Transform configs.
        seed (int): View-sampling seed.

    Returns:
        List[dict]: The converted pipeline.

    Raises:
        ValueError: A random transform other than the view (its randomness
            could not be reproduced in training), or no view transform.
    """
    out, crop = [], None
    for t in copy.deepcopy([dict(t) for t in pipeline]):
        kind = t.get('type')
        if kind == 'RandomResizedCrop':
            crop = dict(type='SeededViewCrop', size=t['size'],
                        scale=t.get('scale', (0.08, 1.0)),
                        ratio=t.get('ratio', (3 / 4, 4 / 3)), flip_prob=0.0,
                        interpolation=t.get('interpolation', 'bilinear'),
                        backend=t.get('backend', 'cv2'))
            out.append(crop)
        elif kind == 'MultiTaskRandomFlip' and crop is not None:
            direction = t.get('direction', 'horizontal')
            if direction != 'horizontal' or isinstance(t.get('prob', 0.5), (list, tuple)):
                raise ValueError(f'extraction supports a horizontal flip only, got {t}')
            crop['flip_prob'] = float(t.get('prob', 0.5))
        elif kind == 'SeededViewCrop':
            crop = t
            out.append(t)
        elif kind in DETERMINISTIC:
            out.append(t)
        else:
            raise ValueError(
                f'pipeline transform {kind!r} is not reproducible: the cached features would '
                'not match the images seen in training; remove it or make it deterministic '
                f'(allowed besides the view: {list(DETERMINISTIC)})')
    if crop is None:
        raise ValueError('the pipeline has neither RandomResizedCrop nor SeededViewCrop: no '
                         'views to extract')
    crop['seed'] = seed
    return out


def dataset_cfg_and_out(cfg, out: Optional[str], seed: int) -> Tuple[dict, str]:
    """The image dataset config to extract from and the cache directory.

    Args:
        cfg (Config): An online or cached distillation config.
        out (str, optional): Cache directory; default: the cached config's
            ``train_dataloader.dataset.cache_dir``.
        seed (int): View-sampling seed.

    Returns:
        Tuple[dict, str]: The dataset config (extraction pipeline) and the directory.
    """
    ds = copy.deepcopy(cfg.train_dataloader.dataset)
    if ds.get('type') == CACHE_WRAPPER:
        out = out or ds.get('cache_dir')
        ds = ds['dataset']
    if not out:
        raise ValueError('give --out (the config names no cache_dir)')
    ds['pipeline'] = extraction_pipeline(ds['pipeline'], seed)
    ds.pop('lazy_init', None)
    return ds, out


def build_config_teachers(model_cfg: Mapping) -> Tuple[Dict[str, nn.Module], Dict[str, dict],
                                                      nn.Module]:
    """Build a config's teachers exactly as its distiller would, and its data preprocessor.

    Args:
        model_cfg (Mapping): The config's ``model``.

    Returns:
        tuple: Teachers by name; what the cache records of each (``cfg`` as
        built, ``init_seed``); the data preprocessor.
    """
    from sakbox.models.teachers import (
        DEFAULT_PREPROCESSOR,
        build_teacher_cfg,
        build_teachers,
        teacher_init_seeds,
    )
    from sakbox.registry import MODELS
    preproc_cfg = copy.deepcopy(model_cfg.get('data_preprocessor') or DEFAULT_PREPROCESSOR)
    preprocessor = MODELS.build(preproc_cfg)
    teachers_cfg = model_cfg.get('teachers') or {}
    if not teachers_cfg:
        raise ValueError('the config\'s model has no teachers')
    seeds = teacher_init_seeds(teachers_cfg, model_cfg.get('teacher_init_seed'))
    teachers = build_teachers(teachers_cfg, preproc_cfg, model_cfg.get('teacher_init_seed'))
    records = {name: dict(cfg=build_teacher_cfg(tcfg, preproc_cfg, name), init_seed=seeds[name])
               for name, tcfg in teachers_cfg.items()}
    return dict(teachers.items()), records, preprocessor


def extract_teacher_features(cfg, out: Optional[str] = None, views: int = 4, seed: int = 0,
                             shard_size: int = 256, batch_size: int = 8, num_workers: int = 2,
                             precision: Optional[str] = None, max_shards: Optional[int] = None,
                             config_name: str = '',
                             device: Optional[torch.device] = None) -> dict:
    """Extract (or resume) the teacher-feature cache of a distillation config.

    Runs in every process of an initialised process group (rank ``r`` of ``W``
    takes shards ``r, r + W, ...``); rank 0 writes the index.

    Args:
        cfg (Config): The config (online or cached variant), default scope set.
        out (str, optional): Cache directory (default: the cached config's).
        views (int): Views K per image.
        seed (int): View-sampling seed.
        shard_size (int): Images per shard.
        batch_size (int): Views per forward.
        num_workers (int): Data-loading workers.
        precision (str, optional): ``'auto'``, ``'fp32'``, ``'bf16'`` or
            ``'fp16'``; default the model's ``teacher_precision``, else auto.
        max_shards (int, optional): Stop after extracting this many shards here.
        config_name (str): Config file name, recorded in the index.
        device (torch.device, optional): Default: ``cuda:LOCAL_RANK`` if
            available, else the CPU.

    Returns:
        dict: This process's statistics (``shards_done``, ``shards_skipped``,
        ``images``, ``views``, ``bytes``, ``seconds``).
    """
    from mmengine.dist import barrier, get_rank, get_world_size

    from sakbox.registry import DATASETS
    from sakbox.utils.precision import PRECISION_DTYPES, resolve_precision

    from .extractor import TeacherFeatureExtractor
    from .index import INDEX_FILE, CacheIndex
    from .writer import shard_is_complete

    rank, world = get_rank(), get_world_size()
    ds_cfg, out = dataset_cfg_and_out(cfg, out, seed)
    dataset = DATASETS.build(ds_cfg)
    teachers, teacher_cfgs, preprocessor = build_config_teachers(cfg.model)
    if device is None:
        device = (torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)))
                  if torch.cuda.is_available() else torch.device('cpu'))
    dtype = resolve_precision(precision or cfg.model.get('teacher_precision', 'auto'),
                              device.type)
    precision = {d: name for name, d in PRECISION_DTYPES.items()}[dtype]

    def log(msg: str) -> None:
        print(f'[rank {rank}/{world}] {msg}', flush=True)

    extractor = TeacherFeatureExtractor(teachers, preprocessor, dataset, device=device,
                                        precision=precision, batch_size=batch_size,
                                        num_workers=num_workers, log=log)
    expected = extractor.build_index(views, seed, shard_size, teacher_cfgs, config=config_name)
    index_path = osp.join(out, INDEX_FILE)
    if rank == 0:
        if osp.isfile(index_path):
            CacheIndex.load(out).check_matches(expected, index_path)
            log(f'resuming the cache in {out}')
        else:
            expected.save(out)
    barrier()
    index = CacheIndex.load(out)
    index.check_matches(expected, index_path)
    log(f'{index.num_images} images x {index.num_views} views, {index.num_shards} shards, '
        f'{index.bytes_per_view() / 2**20:.2f} MiB per view (estimated total '
        f'{index.bytes_per_view() * index.num_images * index.num_views / 2**30:.2f} GiB), '
        f'precision {precision}')

    mine = list(range(rank, index.num_shards, world))
    if max_shards is not None:
        todo = [s for s in mine if not shard_is_complete(out, s)][:max_shards]
        mine = [s for s in mine if shard_is_complete(out, s) or s in todo]
    stats = _timed_extract(extractor, out, index, mine, log)
    barrier()
    if rank == 0:
        index.complete_shards = [s for s in range(index.num_shards)
                                 if shard_is_complete(out, s)]
        index.save(out)
        log(f'{len(index.complete_shards)}/{index.num_shards} shards complete in {out}')
    return stats


def _timed_extract(extractor, out: str, index, shards: List[int],
                   log: Callable[[str], None]) -> dict:
    t0 = time.perf_counter()
    stats = extractor.extract(out, index, shards)
    elapsed = time.perf_counter() - t0
    if stats['images']:
        log(f'extracted {len(stats["shards_done"])} shards ({stats["images"]} images, '
            f'{stats["views"]} views) in {elapsed:.1f} s: '
            f'{stats["images"] / elapsed:.2f} images/s, {stats["views"] / elapsed:.2f} views/s, '
            f'{stats["bytes"] / stats["images"] / 2**20:.3f} MiB per image '
            f'({stats["bytes"] / stats["views"] / 2**20:.3f} MiB per view)')
    log(f'skipped {len(stats["shards_skipped"])} finished shards')
    return stats
