"""sakbox's stage-2 training step next to the official SAK step, on the same machine.

Examples::

    python tools/analysis_tools/compare_official_step.py --official-root ../SAK
    python tools/analysis_tools/compare_official_step.py --official-root ../SAK \
        --config configs/sak_nyud.py --batch-size 2 --iters 2 --warmup 1 --amp

``--official-root`` is a clone of github.com/innovator-zero/SAK (nothing of it
is copied; it is imported in a process of its own). Each side (official fp32,
sakbox fp32 with fp32 teachers, and with ``--amp`` sakbox bf16) runs in a fresh
process, one after the other, on random batches of the config's crop size with
random weights; the report gives seconds and GFLOP per phase (teachers, student
forward + losses, backward, optimizer), the median s/step, the peak resident
memory of the timed steps and the ratios to the official step. The logic is
:mod:`sakbox.analysis.step_comparison`.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from sakbox.analysis.official_sak_step import check_official_root  # noqa: E402
from sakbox.analysis.step_comparison import compare_steps, format_comparison  # noqa: E402
from sakbox.utils.cli import run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Compare the sakbox and official SAK steps')
    parser.add_argument('--official-root', required=True,
                        help='clone of github.com/innovator-zero/SAK')
    parser.add_argument('--config', default='configs/sak_nyud.py',
                        help='sakbox config of the same model (default: configs/sak_nyud.py)')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--iters', type=int, default=2, help='timed steps per side')
    parser.add_argument('--warmup', type=int, default=1, help='untimed steps before them')
    parser.add_argument('--threads', type=int, help='torch CPU threads of every side')
    parser.add_argument('--amp', action='store_true', help='also time sakbox under --amp (bf16)')
    parser.add_argument('--no-flops', action='store_true', help='skip the FLOP-counting step')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', metavar='OUT', help='write every side\'s figures here')
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        parser.error('--iters must be >= 1 and --warmup >= 0')
    return args


def main(argv=None) -> list:
    """Entry point; returns the figures of every side."""
    args = parse_args(argv)
    root = check_official_root(args.official_root)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config {args.config} does not exist')
    sides = ['official', 'sakbox'] + (['sakbox-amp'] if args.amp else [])
    results = compare_steps(args.config, root, sides, batch_size=args.batch_size,
                            iters=args.iters, warmup=args.warmup, threads=args.threads,
                            seed=args.seed, count_flops=not args.no_flops)
    r = results[0]
    print(f'{args.config} vs official SAK ({root}): batch {args.batch_size} x '
          f'{r["input_size"][0]}x{r["input_size"][1]}, {r["threads"]} thread(s), '
          f'{args.iters} timed step(s) after {args.warmup} warm-up, random weights')
    print(format_comparison(results))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == '__main__':
    run_cli(main, 'compare_official_step.py')
