"""Parameters, FLOPs and CPU latency of a SAK model: the student, each teacher, a plain ViT.

Example::

    python tools/analysis_tools/benchmark_model.py configs/sak_nyud.py --shape 448 576

Every network is built without pretrained weights (nothing is downloaded). FLOPs are
counted by ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add = 2 FLOPs) for
one image; latency is the median over ``--repeat`` batch-1 forward passes on the CPU
under ``torch.no_grad()``. "student" is the deployed model: stem (ViT + adapter paths +
routers) and task heads, i.e. what ``init_model`` builds. "plain ViT stem" is the
stem's ViT alone (the teacher-agnostic stem without adapter paths, routers or heads).
"""
import argparse
import copy
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from sakbox.registry import MODELS  # noqa: E402
from sakbox.utils import register_all_modules  # noqa: E402


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
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args(argv)


def disable_pretrained(model_cfg: dict) -> None:
    """Switch off every pretrained / checkpoint load in the model config, in place."""
    model_cfg.pop('init_cfg', None)
    parts = [model_cfg.get('student')] + list((model_cfg.get('teachers') or {}).values())
    for part in parts:
        if isinstance(part, dict):
            if 'pretrained' in part:
                part['pretrained'] = False
            for key in ('checkpoint', 'vit_checkpoint', 'init_cfg'):
                if part.get(key) is not None:
                    part[key] = None


def count_params(module: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in module.parameters())


def measure(fn: Callable[[torch.Tensor], object], x: torch.Tensor, repeat: int,
            warmup: int) -> Dict[str, float]:
    """FLOPs of one call and the median latency (ms) of ``fn(x)``."""
    with torch.no_grad():
        for _ in range(warmup):
            fn(x)
        counter = FlopCounterMode(display=False)
        with counter:
            fn(x)
        times = []
        for _ in range(max(1, repeat)):
            start = time.perf_counter()
            fn(x)
            times.append((time.perf_counter() - start) * 1000)
    return dict(flops=float(counter.get_total_flops()), ms=statistics.median(times))


def plain_vit_forward(vit: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """Patch embed + position embedding + blocks of a timm ViT (no norm / head)."""
    def run(x: torch.Tensor) -> torch.Tensor:
        ph, pw = vit.patch_embed.patch_size
        pad_h, pad_w = (-x.shape[2]) % ph, (-x.shape[3]) % pw
        if pad_h or pad_w:
            x = nn.functional.pad(x, (0, pad_w, 0, pad_h))
        x = vit.norm_pre(vit._pos_embed(vit.patch_embed(x)))
        for blk in vit.blocks:
            x = blk(x)
        return x
    return run


def default_shape(cfg: Config) -> List[int]:
    """The model's training size from the config, else NYUD's 448x576."""
    size = cfg.model.get('student', {}).get('img_size') or cfg.get('crop_size')
    if size is None:
        return [448, 576]
    return [size, size] if isinstance(size, int) else [int(size[0]), int(size[1])]


def fmt_row(name: str, r: Dict[str, float]) -> str:
    """One table row."""
    return (f'{name:<22} {r["params"] / 1e6:>10.2f} {r["flops"] / 1e9:>12.1f} '
            f'{r["ms"]:>12.1f}')


def main(argv=None) -> Dict[str, Dict[str, float]]:
    """Entry point; returns ``{name: {params, flops, ms}}``."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model_cfg = copy.deepcopy(cfg.model)
    disable_pretrained(model_cfg)
    if args.no_teachers and 'build_teachers' in model_cfg:
        model_cfg['build_teachers'] = False
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'sakbox')):
        model = MODELS.build(model_cfg).eval()
    h, w = args.shape or default_shape(cfg)
    x = torch.randn(1, 3, h, w)
    results: Dict[str, Dict[str, float]] = {}

    # The deployed student: stem + heads (no teachers).
    student_params = sum(p.numel() for n, p in model.named_parameters())
    if hasattr(model, 'decode_heads'):
        student_fn: Callable = model._forward
    else:
        student_fn = model.extract_feat
    results['student'] = dict(params=student_params, **measure(student_fn, x, args.repeat,
                                                               args.warmup))
    stem = model.student
    results['student stem'] = dict(params=count_params(stem),
                                   **measure(stem, x, args.repeat, args.warmup))
    vit: Optional[nn.Module] = getattr(stem, 'vit', None)
    if vit is not None:
        results['plain ViT stem'] = dict(params=count_params(vit),
                                         **measure(plain_vit_forward(vit), x, args.repeat,
                                                   args.warmup))
    teacher_total = dict(params=0.0, flops=0.0, ms=0.0)
    for name, teacher in (model.teachers or {}).items():
        r = dict(params=count_params(teacher), **measure(teacher, x, args.repeat, args.warmup))
        results[f'teacher {name}'] = r
        for k in teacher_total:
            teacher_total[k] += r[k]
    if model.teachers:
        results['teachers (all)'] = teacher_total

    print(f'{args.config}: input 1x3x{h}x{w}, {torch.get_num_threads()} CPU thread(s), '
          'pretrained weights off')
    print(f'{"network":<22} {"params (M)":>10} {"GFLOPs":>12} {"CPU ms/img":>12}')
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
