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
model's data preprocessor.
"""
import argparse
import copy
import inspect
import json
import os.path as osp
import statistics
import sys
import time
from typing import Dict, List, Optional, Tuple

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from sakbox.utils import adapt_cfg_to_device, enable_amp, register_all_modules  # noqa: E402
from sakbox.utils.benchmark import (  # noqa: E402
    format_table,
    full_precision_step,
    measure_gemm_peak,
    peak_memory_bytes,
    reset_peak_memory,
    synchronize,
)
from sakbox.utils.cli import load_config  # noqa: E402
from sakbox.utils.pretrained import disable_pretrained  # noqa: E402

#: Precision name -> (autocast dtype for enable_amp or None, GEMM dtype).
PRECISIONS = {
    'fp32': (None, torch.float32),
    'bf16': ('bfloat16', torch.bfloat16),
    'fp16': ('float16', torch.float16),
}
PHASES = ('teachers', 'student_fwd', 'backward', 'optim')


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


# ----------------------------------------------------------------------------- config
def build_cfg(args: argparse.Namespace, precision: str) -> Config:
    """Load the config as ``tools/train.py`` does, with pretrained weights off."""
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = 'none'
    disable_pretrained(cfg.model)
    cfg.pop('load_from', None)
    if args.batch_size is not None:
        cfg.train_dataloader.batch_size = args.batch_size
    amp_dtype = PRECISIONS[precision][0]
    if amp_dtype is not None:
        enable_amp(cfg, amp_dtype)
    teacher_precision = args.teacher_precision
    if teacher_precision is None and precision == 'fp32':
        teacher_precision = 'fp32'  # the reference step: everything in fp32
    if teacher_precision is not None and _model_accepts(cfg.model, 'teacher_precision'):
        cfg.model.teacher_precision = teacher_precision
    return adapt_cfg_to_device(cfg, 'none')


def _model_accepts(model_cfg: dict, arg: str) -> bool:
    from sakbox.registry import MODELS
    with DefaultScope.overwrite_default_scope('sakbox'):
        cls = MODELS.get(model_cfg['type'])
    if cls is None:
        raise KeyError(f'model type {model_cfg["type"]!r} is not registered in sakbox.MODELS')
    return arg in inspect.signature(cls.__init__).parameters


def crop_size(cfg: Config) -> Tuple[int, int]:
    """(H, W) of the training batches: ``crop_size``, else the student's ``img_size``, else 224."""
    size = cfg.get('crop_size') or cfg.model.get('student', {}).get('img_size') or 224
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def dataset_root(cfg: Config) -> Optional[str]:
    """``data_root`` of the train dataset (None when the config has none)."""
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    while isinstance(dataset, dict) and 'dataset' in dataset and 'data_root' not in dataset:
        dataset = dataset['dataset']  # wrappers such as RepeatDataset
    return dataset.get('data_root') if isinstance(dataset, dict) else None


# ------------------------------------------------------------------------------- data
def synthetic_batch(model: torch.nn.Module, batch_size: int, size: Tuple[int, int],
                    seed: int = 0) -> dict:
    """A random batch in the layout ``PackMultiTaskInputs`` + ``pseudo_collate`` produce.

    Images are uint8 BGR (3, H, W); every task of the model gets a valid random
    ground-truth map (labels in range, positive depth, unit normals).

    Args:
        model (nn.Module): The model (its ``tasks`` / ``task_channels`` are read).
        batch_size (int): B.
        size (Tuple[int, int]): (H, W).
        seed (int): Seed of the generator.

    Returns:
        dict: ``inputs`` (list of B (3, H, W) uint8) and ``data_samples``.
    """
    from sakbox.structures import MultiTaskDataSample
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    tasks = list(getattr(model, 'tasks', None) or [])
    channels = dict(getattr(model, 'task_channels', None) or {})
    inputs, samples = [], []
    for i in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8))
        sample = MultiTaskDataSample(metainfo=dict(
            img_id=f'synthetic_{i}', ori_shape=(h, w), img_shape=(h, w), pad_shape=(h, w),
            flip=False, flip_direction=None, scale_factor=(1.0, 1.0)))
        for task in tasks:
            if task == 'depth':
                data = torch.rand(1, h, w, generator=gen) * 9.5 + 0.5
            elif task == 'normals':
                data = torch.nn.functional.normalize(torch.randn(3, h, w, generator=gen), dim=0)
            else:
                num = max(2, channels.get(task, 2))
                data = torch.randint(0, num, (1, h, w), generator=gen, dtype=torch.int64)
            sample.set_gt(task, data)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def time_dataloader(cfg: Config, num_batches: int) -> Tuple[float, List[dict]]:
    """Images/s of the real train dataloader over ``num_batches`` (after the first).

    Args:
        cfg (Config): The config (``train_dataloader``).
        num_batches (int): Batches timed.

    Returns:
        Tuple[float, List[dict]]: Images per second and the batches read.
    """
    from mmengine.runner import Runner
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'sakbox')):
        loader = Runner.build_dataloader(copy.deepcopy(cfg.train_dataloader), seed=0)
        it = iter(loader)
        batches = [next(it)]  # worker start-up is not throughput
    images, start = 0, time.perf_counter()
    for _ in range(num_batches):
        try:
            batch = next(it)
        except StopIteration:
            break
        images += len(batch['inputs'])
        batches.append(batch)
    seconds = time.perf_counter() - start
    del it, loader
    return (images / seconds if seconds > 0 else 0.0), batches


# ------------------------------------------------------------------------- the step
class PhaseProbe:
    """Wall time (and FLOPs, under a counter) of the phases of one train step.

    Wraps, on the instances only, ``model.forward_teachers`` (when present) and
    the optimizer wrapper's ``backward``; a step splits into ``teachers``,
    ``student_fwd`` (data preprocessor, student, heads, losses),
    ``backward`` and ``optim`` (clipping, optimizer step, zero_grad).

    Args:
        model (nn.Module): The model.
        optim_wrapper (OptimWrapper): Its optimizer wrapper.
    """

    def __init__(self, model: torch.nn.Module, optim_wrapper) -> None:
        self.counter: Optional[FlopCounterMode] = None
        self.device = next(model.parameters()).device
        self._marks: Dict[str, Tuple[float, float]] = {}
        self._teacher = [0.0, 0.0]
        if callable(getattr(model, 'forward_teachers', None)):
            model.forward_teachers = self._wrap(model.forward_teachers, teacher=True)
        optim_wrapper.backward = self._wrap(optim_wrapper.backward, name='backward')

    def _now(self) -> Tuple[float, float]:
        synchronize(self.device)
        flops = float(self.counter.get_total_flops()) if self.counter is not None else 0.0
        return time.perf_counter(), flops

    def _wrap(self, fn, name: str = '', teacher: bool = False):
        def wrapped(*args, **kwargs):
            t0, f0 = self._now()
            if name:
                self._marks[f'{name}_start'] = (t0, f0)
            out = fn(*args, **kwargs)
            t1, f1 = self._now()
            if teacher:
                self._teacher[0] += t1 - t0
                self._teacher[1] += f1 - f0
            if name:
                self._marks[f'{name}_end'] = (t1, f1)
            return out
        return wrapped

    def run(self, model: torch.nn.Module, batch: dict, optim_wrapper) -> Dict[str, Dict]:
        """One ``train_step``; returns ``{'seconds': {phase: s}, 'flops': {phase: n}}``."""
        self._marks.clear()
        self._teacher = [0.0, 0.0]
        start = self._now()
        model.train_step(batch, optim_wrapper)
        end = self._now()
        if 'backward_start' not in self._marks:
            raise RuntimeError('the train step never called optim_wrapper.backward; '
                               f'{type(model).__name__}.train_step is not the runner\'s step')
        bwd0, bwd1 = self._marks['backward_start'], self._marks['backward_end']
        out: Dict[str, Dict] = {}
        for k, key in enumerate(('seconds', 'flops')):
            out[key] = dict(
                teachers=self._teacher[k],
                student_fwd=bwd0[k] - start[k] - self._teacher[k],
                backward=bwd1[k] - bwd0[k],
                optim=end[k] - bwd1[k],
                total=end[k] - start[k])
        return out


def build_model_and_optim(cfg: Config, device: torch.device):
    """The model (train mode, on ``device``) and its optimizer wrapper, as the Runner builds them.

    ``init_weights`` is not called: it only changes values, not the work of a step.
    """
    from mmengine.optim import build_optim_wrapper

    from sakbox.registry import MODELS
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'sakbox')):
        model = MODELS.build(cfg.model).to(device).train()
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return model, optim_wrapper


def benchmark_precision(args: argparse.Namespace, precision: str,
                        device: torch.device) -> Dict[str, object]:
    """Build, warm up, count FLOPs and time the steps of one precision."""
    cfg = build_cfg(args, precision)
    batch_size = int(cfg.train_dataloader.batch_size)
    torch.manual_seed(args.seed)
    model, optim_wrapper = build_model_and_optim(cfg, device)
    root = dataset_root(cfg)
    synthetic = args.synthetic or root is None or not osp.exists(root)
    result: Dict[str, object] = dict(precision=precision, batch_size=batch_size,
                                     optim_wrapper=cfg.optim_wrapper.get('type', 'OptimWrapper'),
                                     synthetic=synthetic)
    if 'teacher_precision' in cfg.model:
        result['teacher_precision'] = cfg.model.teacher_precision
    if synthetic:
        if not args.synthetic:
            print(f'note: dataset root {root!r} not found: timing synthetic batches of the '
                  'crop size (the data loader is not measured)')
        batches = [synthetic_batch(model, batch_size, crop_size(cfg), args.seed)]
        result['loader_images_per_s'] = None
    else:
        result['loader_images_per_s'], batches = time_dataloader(cfg, args.loader_batches)
    size = tuple(int(s) for s in batches[0]['inputs'][0].shape[-2:])
    result['input_size'] = list(size)

    probe = PhaseProbe(model, optim_wrapper)
    # FLOPs of one real step, untimed (the counter adds overhead) and in fp32: the
    # count does not depend on the precision, and the counter cannot follow SAM's
    # einsum under inference mode + autocast (see full_precision_step).
    probe.counter = FlopCounterMode(display=False)
    with full_precision_step(model, optim_wrapper), probe.counter:
        flops = probe.run(model, batches[0], optim_wrapper)['flops']
    probe.counter = None
    for i in range(args.warmup):  # in the precision under test
        probe.run(model, batches[i % len(batches)], optim_wrapper)
    reset_ok = reset_peak_memory(device)
    phases = []
    for i in range(args.iters):
        phases.append(probe.run(model, batches[i % len(batches)], optim_wrapper)['seconds'])
    peak = peak_memory_bytes(device)
    seconds = {k: statistics.median(p[k] for p in phases) for k in phases[0]}
    step_s = seconds['total']
    gemm = measure_gemm_peak(PRECISIONS[precision][1], device, n=args.gemm_n,
                             max_seconds=args.gemm_max_seconds)
    achieved = flops['total'] / step_s
    result.update(
        s_per_step=step_s,
        step_times=[p['total'] for p in phases],
        images_per_s=batch_size / step_s,
        flops_per_step=flops['total'],
        flops_split=flops,
        flops_per_s=achieved,
        gemm_peak_flops_per_s=gemm['flops_per_s'],
        gemm_n=int(gemm['n']),
        peak_ratio=achieved / gemm['flops_per_s'],
        phase_seconds=seconds,
        peak_memory_bytes=peak,
        peak_memory_since_start=not reset_ok)
    loader = result['loader_images_per_s']
    result['loader_to_step_ratio'] = None if loader is None else loader / result['images_per_s']
    del model, optim_wrapper, batches
    return result


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
    results = [benchmark_precision(args, p, device) for p in run_precisions(args)]
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
