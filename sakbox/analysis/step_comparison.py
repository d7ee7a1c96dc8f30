"""sakbox's training step next to the official SAK step, each in its own process.

The logic of ``tools/analysis_tools/compare_official_step.py``. Every side runs
``python -m sakbox.analysis.step_comparison --side NAME ...`` in a fresh process
(the official code's top-level module names clash with nothing only there, and
each side's peak resident memory is then its own), one after the other, with the
same batch size, input size and threads:

* ``official``: the official step (:mod:`sakbox.analysis.official_sak_step`);
* ``sakbox``: ``model.train_step`` of a sakbox config in fp32, teachers in fp32
  (:func:`sakbox.analysis.train_benchmark.benchmark_precision`);
* ``sakbox-amp``: the same under ``--amp`` (bf16 autocast; teachers in the
  config's ``teacher_precision``).

Both count FLOPs per phase on one extra untimed step, then time ``warmup`` +
``iters`` steps on random batches; the peak resident set is that of the timed
steps.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Sequence

__all__ = ['SIDES', 'PHASES', 'run_side', 'compare_steps', 'format_comparison', 'main']

SIDES = ('official', 'sakbox', 'sakbox-amp')
PHASES = ('teachers', 'student_fwd', 'backward', 'optim', 'total')


def run_side(side: str, config: str, official_root: Optional[str], batch_size: int,
             iters: int, warmup: int, threads: Optional[int] = None, seed: int = 0,
             timeout: Optional[float] = None, count_flops: bool = True) -> Dict[str, object]:
    """Run one side in a fresh Python process and return its figures.

    Args:
        side (str): One of :data:`SIDES`.
        config (str): The sakbox config (its crop size is used by every side).
        official_root (str, optional): Clone of the official code (``official``).
        batch_size (int): Images per step.
        iters (int): Timed steps.
        warmup (int): Untimed steps before them.
        threads (int, optional): ``torch.set_num_threads`` in the child.
        seed (int): Seed of the weights and the batch.
        timeout (float, optional): Seconds before the child is killed.
        count_flops (bool): Count FLOPs per phase first.

    Returns:
        dict: The child's figures (see :func:`_measure`).

    Raises:
        RuntimeError: The child failed (its last output lines are in the message).
    """
    if side not in SIDES:
        raise ValueError(f'side must be one of {SIDES}, got {side!r}')
    with tempfile.TemporaryDirectory() as tmp:
        out = osp.join(tmp, 'figures.json')
        cmd = [sys.executable, '-m', 'sakbox.analysis.step_comparison', '--side', side,
               '--config', config, '--batch-size', str(batch_size), '--iters', str(iters),
               '--warmup', str(warmup), '--seed', str(seed), '--json', out]
        if official_root:
            cmd += ['--official-root', official_root]
        if threads:
            cmd += ['--threads', str(threads)]
        if not count_flops:
            cmd.append('--no-flops')
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout, env=dict(os.environ))
        if proc.returncode != 0 or not osp.exists(out):
            tail = '\n'.join(proc.stdout.strip().splitlines()[-15:])
            raise RuntimeError(f'the {side!r} side failed (exit {proc.returncode}):\n{tail}')
        with open(out) as f:
            return json.load(f)


def _measure(side: str, config: str, official_root: Optional[str], batch_size: int, iters: int,
             warmup: int, seed: int, count_flops: bool) -> Dict[str, object]:
    """Measure ``side`` in this process (the child's work)."""
    import torch

    from sakbox.analysis.train_benchmark import benchmark_precision, build_benchmark_cfg, crop_size
    from sakbox.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    precision = 'bf16' if side == 'sakbox-amp' else 'fp32'
    cfg = build_benchmark_cfg(config, precision, batch_size=batch_size)
    size = crop_size(cfg)
    if side == 'official':
        from sakbox.analysis.official_sak_step import benchmark_official_step
        if not official_root:
            raise ValueError('the official side needs --official-root')
        return benchmark_official_step(official_root, batch_size, size, iters=iters,
                                       warmup=warmup, seed=seed, count_flops=count_flops)
    result = benchmark_precision(cfg, precision, torch.device('cpu'), iters=iters,
                                 warmup=warmup, synthetic=True, seed=seed)
    result.update(side=side, threads=torch.get_num_threads())
    return result


def compare_steps(config: str, official_root: Optional[str], sides: Sequence[str] = SIDES[:2],
                  **kwargs) -> List[Dict[str, object]]:
    """Run ``sides`` one after the other (see :func:`run_side` for ``kwargs``)."""
    return [run_side(side, config, official_root, **kwargs) for side in sides]


def format_comparison(results: Sequence[Dict[str, object]]) -> str:
    """The per-phase table (s and GFLOP per side), peak memory and ratios to the first side.

    Args:
        results (Sequence[dict]): Figures of :func:`run_side`, the reference first.

    Returns:
        str: The report.
    """
    from sakbox.utils.benchmark import format_table
    ref = results[0]
    headers = ['phase'] + [f'{r["side"]} s' for r in results] + \
        [f'{r["side"]} GFLOP' for r in results] + \
        [f'{r["side"]}/{ref["side"]}' for r in results[1:]]
    rows = []
    for phase in PHASES:
        secs = [r['phase_seconds'][phase] for r in results]
        flops = [None if not r.get('flops_split') else r['flops_split'][phase] / 1e9
                 for r in results]
        ratios = [s / secs[0] if secs[0] > 0 else None for s in secs[1:]]
        rows.append([phase] + secs + flops + ratios)
    lines = [format_table(headers, rows)]
    gib = 1024 ** 3
    for r in results:
        mem = r.get('peak_memory_bytes')
        steps = ', '.join(f'{t:.3g}' for t in r['step_times'])
        lines.append(f'{r["side"]}: {r["s_per_step"]:.4g} s/step (steps: {steps}); peak RSS '
                     f'{"-" if mem is None else f"{mem / gib:.2f} GiB"}; student params '
                     f'{r.get("params", 0) / 1e6:.2f} M')
    for r in results[1:]:
        lines.append(f'{r["side"]} vs {ref["side"]}: step x{ref["s_per_step"] / r["s_per_step"]:.3f} '
                     f'faster; memory {_mem_ratio(r, ref)}')
    return '\n'.join(lines)


def _mem_ratio(r: dict, ref: dict) -> str:
    a, b = r.get('peak_memory_bytes'), ref.get('peak_memory_bytes')
    return '-' if not a or not b else f'{a / b:.3f} of {ref["side"]}'


def _parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='one side of the step comparison '
                                     '(run by compare_official_step.py)')
    parser.add_argument('--side', choices=SIDES, required=True)
    parser.add_argument('--config', required=True)
    parser.add_argument('--official-root')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--iters', type=int, default=2)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int)
    parser.add_argument('--no-flops', action='store_true')
    parser.add_argument('--json', required=True)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    """Child entry point: measure one side and write its figures as JSON."""
    args = _parse(argv)
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    result = _measure(args.side, args.config, args.official_root, args.batch_size, args.iters,
                      args.warmup, args.seed, not args.no_flops)
    with open(args.json, 'w') as f:
        json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
