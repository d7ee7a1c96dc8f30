"""Parameters, FLOPs and latency of RADIO students against their teachers.

For each config the student (``RADIOViT`` / ``ERADIO``, with and without the
adaptor heads) and every teacher are timed on the same input batch. Teachers run
exactly as in training (``RADIODistiller.teacher_targets``: the teacher's own input
rule, e.g. SAM's 1024 long side, CLIP's fixed tower size, the configured
``input_size``), so "matched resolution" means: the same images, each network at
the size it would see them. Weights are random (nothing is downloaded); timings
use ``torch.autocast`` in ``--dtype`` on the chosen device.

Example (GPU)::

    python tools/analysis_tools/benchmark_radio.py \\
        configs/radio/radio_vit-b_8xb32-300k_in1k-1024x1024.py \\
        configs/radio/radio_eradio_8xb32-300k_in1k-1024x1024.py \\
        --shape 448 448 --batch 16 --device cuda --out bench.json

``tools/analysis_tools/benchmark_model.py`` gives the same table on the CPU for SAK models.
"""
import argparse
import copy
import json
from typing import Callable, Dict, List

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from sakbox.registry import MODELS
from sakbox.utils.benchmark import count_params, measure_forward


def parse_args(argv=None):  # noqa: D103
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('configs', nargs='+')
    p.add_argument('--shape', type=int, nargs=2, default=[448, 448], metavar=('H', 'W'))
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--repeat', type=int, default=10)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--dtype', default='bfloat16', choices=['float32', 'bfloat16', 'float16'])
    p.add_argument('--no-teachers', action='store_true')
    p.add_argument('--out', help='write the results as JSON')
    return p.parse_args(argv)


def build(cfg_path: str, device: str, teachers: bool):
    """The config's RADIODistiller with random weights, built directly on ``device``."""
    cfg = Config.fromfile(cfg_path)
    m = copy.deepcopy(cfg.model)
    m['phi_s'] = None
    m['build_teachers'] = teachers
    for t in (m.get('teachers') or {}).values():
        t['pretrained'] = False
        t['checkpoint'] = None
    with DefaultScope.overwrite_default_scope('sakbox'), torch.device(device):
        return MODELS.build(m).to(device).eval()


def measure(fn: Callable, x: torch.Tensor, repeat: int, warmup: int, dtype: torch.dtype,
            device: str) -> Dict[str, float]:
    """GFLOPs per image, median ms per batch, images/s and peak CUDA memory of ``fn(x)``.

    Measured by :func:`sakbox.utils.benchmark.measure_forward` (FLOPs on one image).
    """
    r = measure_forward(fn, x, repeat=repeat, warmup=warmup, dtype=dtype, flops_input=x[:1])
    ms = r['ms']
    mem = (r['peak_memory_bytes'] or 0) / 2**30 if device.startswith('cuda') else 0.0
    return dict(gflops=r['flops'] / 1e9, ms=ms, img_per_s=x.shape[0] / ms * 1000, peak_gib=mem)


def benchmark(cfg_path: str, args) -> Dict[str, Dict[str, float]]:
    """All rows of one config."""
    dtype = getattr(torch, args.dtype)
    model = build(cfg_path, args.device, not args.no_teachers)
    x = torch.randn(args.batch, 3, *args.shape, device=args.device)
    rows: Dict[str, Dict[str, float]] = {}
    nets: List = [('student', model.student), ('student+adaptors', model.extract_feat)]
    for name in (model.teacher_names if model.teachers is not None else []):
        nets.append((f'teacher {name}',
                     lambda inp, n=name, m=model: m.teacher_targets(n, inp)))
    for label, fn in nets:
        mod = model.student if label == 'student' else (
            None if label == 'student+adaptors' else model.teachers[label.split()[1]])
        params = count_params(model if mod is None else mod)
        rows[label] = dict(params_m=params / 1e6,
                           **measure(fn, x, args.repeat, args.warmup, dtype, args.device))
    del model
    if args.device.startswith('cuda'):
        torch.cuda.empty_cache()
    return rows


def main(argv=None) -> dict:  # noqa: D103
    args = parse_args(argv)
    results = {}
    for path in args.configs:
        rows = benchmark(path, args)
        results[path] = rows
        print(f'\n{path}: batch {args.batch} x 3 x {args.shape[0]} x {args.shape[1]}, '
              f'{args.device}, {args.dtype}, random weights')
        print(f'{"network":<20}{"params (M)":>12}{"GFLOPs/img":>12}{"ms/batch":>10}'
              f'{"img/s":>10}{"peak GiB":>10}')
        for name, r in rows.items():
            print(f'{name:<20}{r["params_m"]:>12.1f}{r["gflops"]:>12.1f}{r["ms"]:>10.2f}'
                  f'{r["img_per_s"]:>10.1f}{r["peak_gib"]:>10.2f}')
        teachers = [r for n, r in rows.items() if n.startswith('teacher')]
        if teachers:
            s = rows['student']
            tot = dict(params_m=sum(r['params_m'] for r in teachers),
                       gflops=sum(r['gflops'] for r in teachers),
                       ms=sum(r['ms'] for r in teachers))
            print(f'all teachers / student: params x{tot["params_m"] / s["params_m"]:.1f}, '
                  f'FLOPs x{tot["gflops"] / s["gflops"]:.1f}, time x{tot["ms"] / s["ms"]:.1f}')
            for n, r in rows.items():
                if n.startswith('teacher'):
                    print(f'{n} / student: FLOPs x{r["gflops"] / s["gflops"]:.1f}, '
                          f'time x{r["ms"] / s["ms"]:.1f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(args=vars(args), results=results), f, indent=2)
    return results


if __name__ == '__main__':
    main()
