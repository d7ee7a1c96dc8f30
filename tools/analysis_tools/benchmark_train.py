"""Time real training steps of a config: s/step, images/s, FLOPs, share of the GEMM peak.

Examples::

    python tools/analysis_tools/benchmark_train.py configs/sak_nyud.py --batch-size 2
    python tools/analysis_tools/benchmark_train.py configs/sak_nyud.py --amp --compare-fp32
    python tools/analysis_tools/benchmark_train.py CONFIG --precisions fp32 bf16 --json out.json

A step is the runner's: ``model.train_step(batch, optim_wrapper)`` (data
preprocessor, forward with the teachers, losses, backward, gradient clipping,
optimizer step) with the model and the optimizer wrapper built from the config
as ``tools/train.py`` builds them (``--amp`` converts the wrapper with
:func:`sakbox.utils.enable_amp`). Pretrained weights and checkpoints are switched
off, so nothing is downloaded.

Figures per precision: seconds per step (median of ``--iters`` timed steps after
``--warmup`` untimed ones), images/s, FLOPs of one step counted by
``FlopCounterMode`` on one extra untimed step run in fp32 before the warm-up
(the count depends only on shapes; see
:func:`sakbox.utils.benchmark.full_precision_step`; split into teachers, student
forward, backward), achieved FLOP/s divided by the GEMM peak measured in the
same process with the same precision and threads, the peak memory of the timed
steps, and the wall time split into the same phases. With the dataset on disk
the train dataloader is timed separately and its images/s is divided by the
step's consumption rate (> 1: the loader keeps up); without it (or with
``--synthetic``) random batches of the config's crop size are fed through the
model's data preprocessor. The logic is :mod:`sakbox.analysis.train_benchmark`.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402

from sakbox.analysis.train_benchmark import (  # noqa: E402
    PHASES,
    PRECISIONS,
    benchmark_precision,
    build_benchmark_cfg,
)
from sakbox.utils import register_all_modules  # noqa: E402
from sakbox.utils.benchmark import format_table  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Benchmark training steps of a config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision as tools/train.py --amp (bf16 on CPU)')
    parser.add_argument('--precisions', nargs='+', choices=sorted(PRECISIONS),
                        help='run these precisions one after the other in this process '
                        '(overrides --amp), e.g. --precisions fp32 bf16')
    parser.add_argument('--compare-fp32', action='store_true',
                        help='also run the fp32 step first and print the speed-up')
    parser.add_argument('--iters', type=int, default=3, help='timed steps')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed steps in the precision under test before timing '
                        '(after the fp32 step that counts FLOPs)')
    parser.add_argument('--batch-size', type=int, help='override train_dataloader.batch_size')
    parser.add_argument('--synthetic', action='store_true',
                        help='random batches instead of the dataset (default when the '
                        'dataset root is missing)')
    parser.add_argument('--loader-batches', type=int, default=10,
                        help='batches read to time the real dataloader')
    parser.add_argument('--teacher-precision', choices=['auto', 'bf16', 'fp16', 'fp32'],
                        help='teacher precision of distillers that support it (default: '
                        'fp32 for the fp32 step, the config value under AMP)')
    parser.add_argument('--gemm-n', type=int, default=2048, help='size of the peak GEMM')
    parser.add_argument('--gemm-max-seconds', type=float, default=20.0,
                        help='time budget of the peak GEMM (the size is halved to fit)')
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument('--device', help='cpu or cuda (default: cuda when available)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', metavar='OUT', help='write the figures to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.build_teachers=False')
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        parser.error('--iters must be >= 1 and --warmup >= 0')
    return args


def run_precisions(args: argparse.Namespace) -> List[str]:
    """The precisions to run, in order."""
    if args.precisions:
        names = list(dict.fromkeys(args.precisions))
    else:
        names = ['bf16' if args.amp else 'fp32']
    if args.compare_fp32 and 'fp32' not in names:
        names.insert(0, 'fp32')
    return names


# ------------------------------------------------------------------------- printing
def print_report(results: List[Dict[str, object]], header: str) -> None:
    """Print the figures of every precision and the speed-ups."""
    print(header)
    gib = 1024 ** 3
    rows = []
    for r in results:
        mem = r['peak_memory_bytes']
        loader = r['loader_to_step_ratio']
        rows.append([
            r['precision'], r['s_per_step'], r['images_per_s'], r['flops_per_step'] / 1e9,
            r['flops_per_s'] / 1e9, f'{r["gemm_peak_flops_per_s"] / 1e9:.4g} (n={r["gemm_n"]})',
            f'{100 * r["peak_ratio"]:.1f}%', None if mem is None else mem / gib,
            None if loader is None else float(loader)])
    print(format_table(['precision', 's/step', 'img/s', 'GFLOP/step', 'GFLOP/s',
                        'GEMM peak GFLOP/s', 'of peak', 'peak mem GiB', 'loader/step'], rows))
    print('\nper phase (s, GFLOP): median wall time of the timed steps; FLOPs of one step')
    rows = []
    for r in results:
        for phase in PHASES:
            sec, fl = r['phase_seconds'][phase], r['flops_split'][phase]
            rows.append([r['precision'], phase, sec, fl / 1e9,
                         (fl / sec / 1e9) if sec > 0 and fl > 0 else None])
    print(format_table(['precision', 'phase', 's', 'GFLOP', 'GFLOP/s'], rows))
    mem_note = [r['precision'] for r in results if r['peak_memory_since_start']]
    if mem_note:
        print(f'note: peak memory of {mem_note} counts from process start (VmHWM not '
              'resettable here)')
    if any(r['loader_images_per_s'] is None for r in results):
        print('loader/step: - = synthetic batches (no dataset on disk)')
    ref = next((r for r in results if r['precision'] == 'fp32'), None)
    for r in results:
        if ref is not None and r is not ref:
            print(f'speed-up {r["precision"]} vs fp32: x{ref["s_per_step"] / r["s_per_step"]:.2f} '
                  f'({r["s_per_step"]:.3f} s vs {ref["s_per_step"]:.3f} s per step)')


def main(argv=None) -> Dict[str, object]:
    """Entry point; returns ``{'config', 'threads', 'device', 'results': [...]}``."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=False)
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    results = []
    for precision in run_precisions(args):
        cfg = build_benchmark_cfg(args.config, precision, args.cfg_options, args.batch_size,
                                  args.teacher_precision)
        results.append(benchmark_precision(
            cfg, precision, device, iters=args.iters, warmup=args.warmup,
            synthetic=args.synthetic, loader_batches=args.loader_batches, seed=args.seed,
            gemm_n=args.gemm_n, gemm_max_seconds=args.gemm_max_seconds))
    threads = torch.get_num_threads()
    where = device.type if device.type == 'cuda' else f'cpu, {threads} thread(s)'
    r0 = results[0]
    header = (f'{args.config}: batch {r0["batch_size"]} x {r0["input_size"][0]}x'
              f'{r0["input_size"][1]}, {where}, {args.iters} timed step(s) after '
              f'{args.warmup} warm-up, pretrained weights off'
              + (', synthetic data' if r0['synthetic'] else ''))
    print_report(results, header)
    payload = dict(config=args.config, device=str(device), threads=threads, results=results)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(payload, f, indent=2)
    return payload


if __name__ == '__main__':
    main()
