"""Parameters, FLOPs and CPU latency of a SAK model: the student, each teacher, a plain ViT.

Example::

    python tools/analysis_tools/benchmark_model.py configs/sak_nyud.py --shape 448 576

Every network is built without pretrained weights (nothing is downloaded). FLOPs are
counted by ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add = 2 FLOPs) for
one image; latency is the median over ``--repeat`` batch-1 forward passes on the CPU
under ``torch.no_grad()`` (under bf16 / fp16 autocast with ``--amp`` / ``--precision``).
"of peak" divides each network's achieved FLOP/s by the square-GEMM throughput of the
same precision measured in this process with the same threads
(:func:`sakbox.utils.benchmark.measure_gemm_peak`); the measuring is
:func:`sakbox.utils.benchmark.measure_forward`. "student" is the deployed model:
stem (ViT + adapter paths + routers) and task heads, i.e. what ``init_model`` builds.
"plain ViT stem" is the stem's ViT alone (the teacher-agnostic stem without adapter
paths, routers or heads).
"""
import argparse
import copy
import os.path as osp
import sys
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

from sakbox.registry import MODELS  # noqa: E402
from sakbox.utils import register_all_modules  # noqa: E402
from sakbox.utils.benchmark import (  # noqa: E402
    count_params,
    measure_gemm_peak,
    plain_vit_forward,
)
from sakbox.utils.benchmark import measure_forward as _measure_forward  # noqa: E402
from sakbox.utils.cli import load_config  # noqa: E402
from sakbox.utils.pretrained import disable_pretrained  # noqa: E402

#: ``--precision`` -> autocast dtype (None: plain fp32).
PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Benchmark a SAK model on the CPU')
    parser.add_argument('config', help='config file')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input size (default: the model img_size / crop size, else 448 576)')
    parser.add_argument('--repeat', type=int, default=3, help='timed passes per network')
    parser.add_argument('--warmup', type=int, default=1, help='untimed passes per network')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--no-teachers', action='store_true', help='skip the teachers')
    parser.add_argument('--amp', action='store_true',
                        help='forward passes under bf16 autocast (= --precision bf16)')
    parser.add_argument('--precision', choices=sorted(PRECISIONS), default=None,
                        help='precision of the forward passes (default fp32)')
    parser.add_argument('--gemm-n', type=int, default=2048,
                        help='size of the square GEMM whose throughput is the peak')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args(argv)


def measure(fn: Callable[[torch.Tensor], object], x: torch.Tensor, repeat: int,
            warmup: int, dtype: Optional[torch.dtype] = None) -> Dict[str, float]:
    """``flops`` and ``ms`` of :func:`sakbox.utils.benchmark.measure_forward`."""
    r = _measure_forward(fn, x, repeat=repeat, warmup=warmup, dtype=dtype)
    return dict(flops=r['flops'], ms=r['ms'])


def default_shape(cfg: Config) -> List[int]:
    """The model's training size from the config, else NYUD's 448x576."""
    size = cfg.model.get('student', {}).get('img_size') or cfg.get('crop_size')
    if size is None:
        return [448, 576]
    return [size, size] if isinstance(size, int) else [int(size[0]), int(size[1])]


def fmt_row(name: str, r: Dict[str, float]) -> str:
    """One table row."""
    return (f'{name:<22} {r["params"] / 1e6:>10.2f} {r["flops"] / 1e9:>12.1f} '
            f'{r["ms"]:>12.1f} {r["gflops_per_s"]:>9.3g} {100 * r["peak_ratio"]:>7.1f}%')


def main(argv=None) -> Dict[str, Dict[str, float]]:
    """Entry point; returns ``{name: {params, flops, ms}}``."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options)
    model_cfg = copy.deepcopy(cfg.model)
    disable_pretrained(model_cfg)
    if args.no_teachers and 'build_teachers' in model_cfg:
        model_cfg['build_teachers'] = False
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'sakbox')):
        model = MODELS.build(model_cfg).eval()
    h, w = args.shape or default_shape(cfg)
    x = torch.randn(1, 3, h, w)
    precision = args.precision or ('bf16' if args.amp else 'fp32')
    dtype = PRECISIONS[precision]
    results: Dict[str, Dict[str, float]] = {}

    # The deployed student: stem + heads (no teachers).
    student_params = sum(p.numel() for n, p in model.named_parameters())
    if hasattr(model, 'decode_heads'):
        student_fn: Callable = model._forward
    else:
        student_fn = model.extract_feat
    results['student'] = dict(params=student_params, **measure(student_fn, x, args.repeat,
                                                               args.warmup, dtype))
    stem = model.student
    results['student stem'] = dict(params=count_params(stem),
                                   **measure(stem, x, args.repeat, args.warmup, dtype))
    vit: Optional[nn.Module] = getattr(stem, 'vit', None)
    if vit is not None:
        results['plain ViT stem'] = dict(params=count_params(vit),
                                         **measure(plain_vit_forward(vit), x, args.repeat,
                                                   args.warmup, dtype))
    teacher_total = dict(params=0.0, flops=0.0, ms=0.0)
    for name, teacher in (model.teachers or {}).items():
        r = dict(params=count_params(teacher), **measure(teacher, x, args.repeat, args.warmup,
                                                        dtype))
        results[f'teacher {name}'] = r
        for k in teacher_total:
            teacher_total[k] += r[k]
    if model.teachers:
        results['teachers (all)'] = teacher_total

    gemm = measure_gemm_peak(dtype or torch.float32, x.device, n=args.gemm_n)
    for r in results.values():
        r['gflops_per_s'] = r['flops'] / (r['ms'] / 1000) / 1e9
        r['peak_ratio'] = r['gflops_per_s'] * 1e9 / gemm['flops_per_s']
    print(f'{args.config}: input 1x3x{h}x{w}, {torch.get_num_threads()} CPU thread(s), '
          f'{precision}, pretrained weights off; GEMM peak {gemm["flops_per_s"] / 1e9:.1f} '
          f'GFLOP/s ({precision}, n={int(gemm["n"])})')
    print(f'{"network":<22} {"params (M)":>10} {"GFLOPs":>12} {"CPU ms/img":>12} '
          f'{"GFLOP/s":>9} {"of peak":>8}')
    for name, r in results.items():
        print(fmt_row(name, r))
    ratios = []
    if model.teachers:
        ratios.append(('teachers / student', teacher_total, results['student']))
    if 'plain ViT stem' in results:
        ratios.append(('SAK student / plain ViT stem', results['student'],
                       results['plain ViT stem']))
        ratios.append(('SAK stem / plain ViT stem', results['student stem'],
                       results['plain ViT stem']))
    for label, a, b in ratios:
        print(f'{label:<30} params x{a["params"] / b["params"]:.2f}  '
              f'FLOPs x{a["flops"] / b["flops"]:.2f}  time x{a["ms"] / b["ms"]:.2f}')
    return results


if __name__ == '__main__':
    main()
