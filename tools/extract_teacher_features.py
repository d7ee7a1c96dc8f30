"""Run a distillation config's teachers once over fixed views of its training images.

Writes a teacher-feature cache (fp16 ``.npy`` memory-map shards + ``index.json``,
see ``docs/teacher_cache.md``) that ``TeacherFeatureCacheDataset`` serves to
stage-1 training instead of running the teachers at every step.

* Views: ``--views K`` deterministic random-resized crops + flips per image, a
  pure function of ``(--seed, image index, view)`` (``SeededViewCrop``); an
  online config's ``RandomResizedCrop`` + ``MultiTaskRandomFlip`` are turned
  into a ``SeededViewCrop`` with the same settings, a cached config's
  ``SeededViewCrop`` is used as it is.
* Resumable: finished shards (``shard_XXXXX/done.json``) are skipped; rerun the
  same command after a crash.
* Distributed: rank r of W takes shards r, r + W, ...

Examples::

    python tools/extract_teacher_features.py configs/sak/sak_vit-tiny_stage1_synthetic.py \
        --out data/teacher_cache/sak_vit-tiny_stage1_synthetic --views 4
    torchrun --nproc_per_node 8 tools/extract_teacher_features.py \
        configs/sak/sak_vit-b_stage1_in1k.py --out data/teacher_cache/in1k_vit-b \
        --launcher pytorch
"""
import argparse
import copy
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402
from mmengine.dist import barrier, get_rank, get_world_size  # noqa: E402

from sakbox.utils import init_cpu_distributed  # noqa: E402
from sakbox.utils.cli import load_config  # noqa: E402

#: Transforms that are deterministic, hence allowed in an extraction pipeline.
DETERMINISTIC = ('LoadImageFromFile', 'LoadMultiTaskAnnotations', 'SeededViewCrop',
                 'MultiTaskResize', 'MultiTaskPad', 'AddIgnoreRegions', 'PackMultiTaskInputs')
CACHE_WRAPPER = 'TeacherFeatureCacheDataset'


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Extract teacher features into a cache')
    parser.add_argument('config', help='a distillation config (online or cached variant)')
    parser.add_argument('--out', help='cache directory (default: the cached config\'s '
                        'train_dataloader.dataset.cache_dir)')
    parser.add_argument('--views', type=int, default=4, help='views K per image')
    parser.add_argument('--seed', type=int, default=0, help='view-sampling seed')
    parser.add_argument('--shard-size', type=int, default=256, help='images per shard')
    parser.add_argument('--batch-size', type=int, default=8, help='views per forward')
    parser.add_argument('--num-workers', type=int, default=2, help='data-loading workers')
    parser.add_argument('--precision', choices=['auto', 'fp32', 'bf16', 'fp16'],
                        default=None, help='teacher compute precision (default: the model\'s '
                        'teacher_precision, else auto); auto: bf16 where the device runs it '
                        'natively, else fp32')
    parser.add_argument('--max-shards', type=int, default=None,
                        help='stop after extracting this many shards in this process')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.teachers.sam.pretrained=False')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    for key in ('views', 'shard_size', 'batch_size'):
        if getattr(args, key) < 1:
            raise ValueError(f'--{key.replace("_", "-")} must be >= 1')
    return args


def extraction_pipeline(pipeline: List[dict], seed: int) -> List[dict]:
    """An online stage-1 pipeline with its random view replaced by ``SeededViewCrop``.

    ``RandomResizedCrop`` (followed by an optional horizontal
    ``MultiTaskRandomFlip``) becomes ``SeededViewCrop`` with the same size,
    scale, ratio, flip probability, interpolation and resize backend; a ``SeededViewCrop`` is kept (its seed
    set to ``seed``).

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


def dataset_cfg_and_out(cfg: Config, out: str, seed: int) -> Tuple[dict, str]:
    """The image dataset config to extract from and the cache directory."""
    ds = copy.deepcopy(cfg.train_dataloader.dataset)
    if ds.get('type') == CACHE_WRAPPER:
        out = out or ds.get('cache_dir')
        ds = ds['dataset']
    if not out:
        raise ValueError('give --out (the config names no cache_dir)')
    ds['pipeline'] = extraction_pipeline(ds['pipeline'], seed)
    ds.pop('lazy_init', None)
    return ds, out


def build_teachers(model_cfg: ConfigDict) -> Tuple[Dict[str, torch.nn.Module],
                                                   Dict[str, dict], torch.nn.Module]:
    """Build the teachers exactly as the distiller would, and its data preprocessor.

    Returns:
        tuple: Teachers by name; what the cache records of each (``cfg`` as
        built, ``init_seed``); the data preprocessor.
    """
    from sakbox.models.distillers.base_distiller import DEFAULT_PREPROCESSOR, BaseDistiller
    from sakbox.registry import MODELS
    preproc_cfg = copy.deepcopy(model_cfg.get('data_preprocessor') or DEFAULT_PREPROCESSOR)
    preprocessor = MODELS.build(preproc_cfg)
    seed = model_cfg.get('teacher_init_seed')
    teachers, cfgs = {}, {}
    for i, (name, tcfg) in enumerate((model_cfg.get('teachers') or {}).items()):
        tcfg = BaseDistiller._teacher_cfg(tcfg.to_dict() if hasattr(tcfg, 'to_dict')
                                          else dict(tcfg), preproc_cfg, name)
        init_seed = None if seed is None else seed + i
        teacher = BaseDistiller._build_seeded(tcfg, init_seed)
        teachers[name] = teacher.requires_grad_(False).eval()
        cfgs[name] = dict(cfg=tcfg, init_seed=init_seed)
    if not teachers:
        raise ValueError('the config\'s model has no teachers')
    return teachers, cfgs, preprocessor


def _init_dist(launcher: str) -> None:
    if launcher == 'none':
        return
    if torch.cuda.is_available():
        from mmengine.dist import init_dist
        init_dist(launcher)
    else:
        init_cpu_distributed(launcher)


def main(argv=None) -> dict:
    """Entry point; returns this process's statistics."""
    args = parse_args(argv)
    # Only what extraction builds (not the evaluation / visualisation stacks).
    from mmengine.registry import init_default_scope

    import sakbox.datasets  # noqa: F401
    import sakbox.models  # noqa: F401
    init_default_scope('sakbox')
    _init_dist(args.launcher)
    rank, world = get_rank(), get_world_size()
    cfg = load_config(args.config, args.cfg_options)

    from sakbox.datasets.feature_cache import CacheIndex, TeacherFeatureExtractor, shard_is_complete
    from sakbox.datasets.feature_cache.index import INDEX_FILE
    from sakbox.engine.optim_wrappers import PRECISION_DTYPES, resolve_precision
    from sakbox.registry import DATASETS

    ds_cfg, out = dataset_cfg_and_out(cfg, args.out, args.seed)
    dataset = DATASETS.build(ds_cfg)
    teachers, teacher_cfgs, preprocessor = build_teachers(cfg.model)
    device = (torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)))
              if torch.cuda.is_available() else torch.device('cpu'))
    dtype = resolve_precision(args.precision or cfg.model.get('teacher_precision', 'auto'),
                              device.type)
    precision = {d: name for name, d in PRECISION_DTYPES.items()}[dtype]

    def log(msg: str) -> None:
        print(f'[rank {rank}/{world}] {msg}', flush=True)

    extractor = TeacherFeatureExtractor(teachers, preprocessor, dataset, device=device,
                                        precision=precision, batch_size=args.batch_size,
                                        num_workers=args.num_workers, log=log)
    expected = extractor.build_index(args.views, args.seed, args.shard_size, teacher_cfgs,
                                     config=osp.basename(args.config))
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
    if args.max_shards is not None:
        todo = [s for s in mine if not shard_is_complete(out, s)][:args.max_shards]
        mine = [s for s in mine if shard_is_complete(out, s) or s in todo]
    t0 = time.perf_counter()
    stats = extractor.extract(out, index, mine)
    elapsed = time.perf_counter() - t0
    if stats['images']:
        log(f'extracted {len(stats["shards_done"])} shards ({stats["images"]} images, '
            f'{stats["views"]} views) in {elapsed:.1f} s: '
            f'{stats["images"] / elapsed:.2f} images/s, {stats["views"] / elapsed:.2f} views/s, '
            f'{stats["bytes"] / stats["images"] / 2**20:.3f} MiB per image '
            f'({stats["bytes"] / stats["views"] / 2**20:.3f} MiB per view)')
    log(f'skipped {len(stats["shards_skipped"])} finished shards')
    barrier()
    if rank == 0:
        index.complete_shards = [s for s in range(index.num_shards)
                                 if shard_is_complete(out, s)]
        index.save(out)
        log(f'{len(index.complete_shards)}/{index.num_shards} shards complete in {out}')
    return stats


if __name__ == '__main__':
    main()
