"""Stage-1 training step with online teachers vs cached teacher features.

Examples::

    python tools/analysis_tools/benchmark_teacher_cache.py            # tiny + ViT-B stage 1
    python tools/analysis_tools/benchmark_teacher_cache.py \
        configs/sak/sak_vit-tiny_stage1_1xb16-30e_synthetic-nyud-96x128.py \
        --batch-size 16 --iters 5

For each (online) stage-1 config (``sakbox.analysis.teacher_cache_benchmark``):
random images are written to ``--work-dir``, ``extract_teacher_features`` caches
the teachers' features of one view per image (its images/s and the bytes per view are
reported), then one model with built teachers runs
``model.train_step(batch, optim_wrapper)`` (the runner's step: data
preprocessor, forward, losses, backward, optimizer step; optimizer wrapper
from the config) on the *same* batch, alternately without ``teacher_feats``
(the teachers run) and with them (read from the cache), so that the noise of
a shared machine hits both alike. Before that, the loss of both batches on
the initial weights is computed: they must agree (fp16 storage).
Pretrained weights are off (random teachers and student, nothing downloaded),
and ``teacher_init_seed`` is set so that the extraction's and the model's
teachers are the same.
Reported: median s/step of each, the speed-up, the time to load one batch
from the cache (memory maps + image decode) and from the images alone, and
disk bytes per image per view.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

from sakbox.analysis.teacher_cache_benchmark import benchmark  # noqa: E402
from sakbox.utils.benchmark import format_table  # noqa: E402

DEFAULT_CONFIGS = ['configs/sak/sak_vit-tiny_stage1_1xb16-30e_synthetic-nyud-96x128.py',
                   'configs/sak/sak_vit-b_stage1_8xb16-30e_in1k-384x384.py']


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Online vs cached stage-1 training step')
    parser.add_argument('configs', nargs='*', default=DEFAULT_CONFIGS,
                        help='online stage-1 configs (default: tiny and ViT-B)')
    parser.add_argument('--batch-size', type=int, nargs='+', default=None,
                        help='batch size per config (one value for all); default 16 for '
                        'tiny configs, 2 otherwise')
    parser.add_argument('--iters', type=int, default=3, help='timed steps of each kind')
    parser.add_argument('--warmup', type=int, default=1, help='untimed steps of each kind')
    parser.add_argument('--work-dir', default='work_dirs/benchmark_teacher_cache',
                        help='images and caches are written here')
    return parser.parse_args(argv)


def main(argv=None) -> List[Dict[str, object]]:
    """Entry point; returns one result dict per config."""
    args = parse_args(argv)
    sizes = args.batch_size or [16 if 'tiny' in c else 2 for c in args.configs]
    if len(sizes) == 1:
        sizes = sizes * len(args.configs)
    if len(sizes) != len(args.configs):
        raise ValueError(f'--batch-size: give one value or one per config '
                         f'({len(args.configs)})')
    results = [benchmark(c, b, args.work_dir, args.iters, args.warmup)
               for c, b in zip(args.configs, sizes)]
    rows = [[r['config'], f"{r['crop'][0]}x{r['crop'][1]}", r['batch'],
             f"{r['online_s']:.3f}", f"{r['cached_s']:.3f}", f"{r['speedup']:.2f}x",
             f"{r['load_online_s'] / r['batch'] * 1e3:.1f} / "
             f"{r['load_cached_s'] / r['batch'] * 1e3:.1f}",
             f"{r['bytes_per_view'] / 2**20:.2f}", f"{r['extract_img_s']:.2f}",
             f"{r['loss_online']:.5f} / {r['loss_cached']:.5f}"] for r in results]
    print(format_table(['config', 'crop', 'batch', 'online s/step', 'cached s/step',
                        'speed-up', 'load ms/img (images / +cache)', 'MiB/img/view',
                        'extract img/s', 'first loss online / cached'], rows))
    print(f'torch threads: {torch.get_num_threads()}; median of {args.iters} steps after '
          f'{args.warmup} warm-up step(s); random weights.')
    return results


if __name__ == '__main__':
    main()
