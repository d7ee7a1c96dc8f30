"""Test-time peak memory and latency: the teacher-free test model vs one with teachers loaded.

Example::

    python tools/analysis_tools/benchmark_test_memory.py configs/sak_nyud.py
    python tools/analysis_tools/benchmark_test_memory.py CONFIG --shape 448 576 --batch-size 2

Two phases, each in its own Python subprocess so that their peaks do not mix:

* ``teacher-free``: the model as ``tools/test.py`` and ``init_model`` build it
  (:func:`sakbox.apis.prepare_model_cfg_for_test`: no teachers);
* ``teachers-loaded``: the same model built as training builds it
  (``build_teachers=True``), i.e. a test run that keeps the teachers in memory.

(``--run-teachers`` adds ``teachers-run``: teachers loaded *and* run on every
batch, as an evaluation that computes a distillation metric would.)

Every network is built with pretrained weights off (random init, nothing is
downloaded). Each phase builds the model, then runs ``model.test_step`` on
random uint8 images of the config's test size (``crop_size``, else the
student's ``img_size``, else 448x576) ``--warmup`` + ``--repeat`` times.
Memory: on the CPU the peak resident set of the subprocess (``VmHWM``) and the
part of it above the resident set right after the imports (the memory the
model and its inference cost); on CUDA ``torch.cuda.max_memory_allocated``.
Latency: the median of the timed ``test_step`` calls. Also printed: the bytes
of the model's parameters and buffers without and with the teachers. The logic
is :mod:`sakbox.analysis.eval_memory_benchmark`.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402

#: Phase name -> (build the teachers, run them on every batch).
PHASES = {
    'teacher-free': (False, False),
    'teachers-loaded': (True, False),
    'teachers-run': (True, True),
}
#: Goal of issue 7: teacher-free test peak <= GOAL x the teachers-loaded peak.
GOAL = 0.4
RESULT_TAG = 'BENCHMARK_RESULT '


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description='Test-time peak memory: teacher-free vs teachers loaded')
    parser.add_argument('config', help='config file')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input size (default: the config test size)')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='images per test_step (default: test_dataloader.batch_size, else 1)')
    parser.add_argument('--repeat', type=int, default=3, help='timed test_step calls')
    parser.add_argument('--warmup', type=int, default=1, help='untimed test_step calls')
    parser.add_argument('--device', default=None,
                        help="'cpu' or 'cuda' (default: cuda when available)")
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--run-teachers', action='store_true',
                        help='add the teachers-run phase (teachers also run on every batch)')
    parser.add_argument('--json', metavar='FILE', help='also write the results as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    parser.add_argument('--phase', choices=sorted(PHASES), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_phase(args: argparse.Namespace) -> Dict[str, float]:
    """Measure the phase ``args.phase`` in this process (:func:`measure_test_phase`)."""
    from sakbox.analysis.eval_memory_benchmark import measure_test_phase
    from sakbox.utils import register_all_modules
    from sakbox.utils.cli import load_config

    if args.threads:
        torch.set_num_threads(args.threads)
    build_teachers, run_teachers = PHASES[args.phase]
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options)
    result = measure_test_phase(cfg, build_teachers, run_teachers, size=args.shape,
                                batch_size=args.batch_size, device=args.device,
                                repeat=args.repeat, warmup=args.warmup)
    return dict(phase=args.phase, **result)


def _phase_argv(args: argparse.Namespace, phase: str) -> List[str]:
    argv = [args.config, '--phase', phase, '--repeat', str(args.repeat),
            '--warmup', str(args.warmup)]
    if args.shape:
        argv += ['--shape', *map(str, args.shape)]
    if args.batch_size:
        argv += ['--batch-size', str(args.batch_size)]
    if args.device:
        argv += ['--device', args.device]
    if args.threads:
        argv += ['--threads', str(args.threads)]
    if args.cfg_options:
        argv += ['--cfg-options'] + [f'{k}={_cli_value(v)}' for k, v in args.cfg_options.items()]
    return argv


def _cli_value(value) -> str:
    """Render a ``--cfg-options`` value so that ``DictAction`` parses it back the same."""
    if isinstance(value, (list, tuple)):
        inner = ','.join(_cli_value(v) for v in value)
        return f'[{inner}]' if isinstance(value, list) else f'({inner})'
    return str(value)


def spawn_phase(args: argparse.Namespace, phase: str) -> Dict[str, float]:
    """Run one phase in a fresh Python process and return its results."""
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    cmd = [sys.executable, osp.abspath(__file__)] + _phase_argv(args, phase)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    raise RuntimeError(f'phase {phase!r} of {args.config} failed (exit {proc.returncode}):\n'
                       f'{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}')


def _mib(n: Optional[float]) -> Optional[float]:
    return None if n is None else n / 2**20


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or not b else a / b


def report(config: str, results: Dict[str, dict]) -> Dict[str, Optional[float]]:
    """Print the table and the ratios; return the ratios."""
    from sakbox.utils.benchmark import format_table
    first = next(iter(results.values()))
    print(f'{config}: test_step on {first["batch_size"]}x3x{first["input_size"][0]}x'
          f'{first["input_size"][1]} random images, {first["device"]}, '
          f'{first["threads"]} thread(s), pretrained weights off')
    cuda = first['device'] == 'cuda'
    rows = []
    for name, r in results.items():
        params = r['model_bytes'] + r['teacher_bytes']
        rows.append([name, _mib(r['peak_bytes']), _mib(r['model_peak_bytes']), _mib(params),
                     _mib(r['teacher_bytes']), r['ms_per_step']])
    peak_above = 'CUDA max allocated (MiB)' if cuda else 'peak above imports (MiB)'
    print(format_table(['phase', 'peak RSS (MiB)', peak_above, 'weights (MiB)',
                        'of which teachers', 'ms/step'], rows, float_fmt='.1f'))
    free, loaded = results['teacher-free'], results['teachers-loaded']
    ratios = dict(
        peak_ratio=_ratio(free['peak_bytes'], loaded['peak_bytes']),
        model_peak_ratio=_ratio(free['model_peak_bytes'], loaded['model_peak_bytes']),
        weights_ratio=_ratio(free['model_bytes'] + free['teacher_bytes'],
                             loaded['model_bytes'] + loaded['teacher_bytes']),
        latency_ratio=_ratio(free['ms_per_step'], loaded['ms_per_step']))
    labels = dict(peak_ratio='peak RSS of the process',
                  model_peak_ratio='CUDA peak allocated' if cuda else 'peak above imports',
                  weights_ratio='parameter + buffer bytes', latency_ratio='latency')
    for key, label in labels.items():
        value = ratios[key]
        text = '-' if value is None else f'{value:.3f}x'
        goal = ''
        if key in ('peak_ratio', 'model_peak_ratio') and value is not None:
            goal = f'  (goal <= {GOAL}x: {"met" if value <= GOAL else "not met"})'
        print(f'teacher-free / teachers-loaded, {label}: {text}{goal}')
    return ratios


def main(argv=None) -> Dict[str, dict]:
    """Entry point; returns ``{phase: results, 'ratios': {...}}``."""
    args = parse_args(argv)
    if args.phase is not None:
        result = run_phase(args)
        print(RESULT_TAG + json.dumps(result), flush=True)
        return {args.phase: result}
    phases = ['teacher-free', 'teachers-loaded'] + (['teachers-run'] if args.run_teachers
                                                   else [])
    results = {phase: spawn_phase(args, phase) for phase in phases}
    ratios = report(args.config, results)
    out = dict(results, ratios=ratios)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(config=args.config, **out), f, indent=2)
    return out


if __name__ == '__main__':
    main()
