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

    python tools/extract_teacher_features.py \
        configs/sak/sak_vit-tiny_stage1_1xb16-30e_synthetic-nyud-96x128.py \
        --out data/teacher_cache/sak_vit-tiny_stage1_1xb16-30e_synthetic-nyud-96x128 --views 4
    torchrun --nproc_per_node 8 tools/extract_teacher_features.py \
        configs/sak/sak_vit-b_stage1_8xb16-30e_in1k-384x384.py --out data/teacher_cache/in1k_vit-b \
        --launcher pytorch
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from sakbox.utils import init_cpu_distributed  # noqa: E402
from sakbox.utils.cli import load_config  # noqa: E402


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
    cfg = load_config(args.config, args.cfg_options)

    from sakbox.datasets.feature_cache import extract_teacher_features
    return extract_teacher_features(
        cfg, out=args.out, views=args.views, seed=args.seed, shard_size=args.shard_size,
        batch_size=args.batch_size, num_workers=args.num_workers, precision=args.precision,
        max_shards=args.max_shards, config_name=osp.basename(args.config))


if __name__ == '__main__':
    main()
