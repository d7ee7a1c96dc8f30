"""Timing real training steps: the logic of ``tools/analysis_tools/benchmark_train.py``.

A step is the runner's: ``model.train_step(batch, optim_wrapper)`` (data
preprocessor, forward with the teachers, losses, backward, gradient clipping,
optimizer step) with the model and the optimizer wrapper built from the config
as ``tools/train.py`` builds them. FLOPs of one step are counted on one extra
untimed step run in fp32 (:func:`sakbox.utils.benchmark.full_precision_step`),
split into the phases of :class:`PhaseProbe`; the GEMM peak, memory peak and
tables come from :mod:`sakbox.utils.benchmark`.
"""
import copy
import inspect
import os.path as osp
import statistics
import time
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch.utils.flop_counter import FlopCounterMode

from sakbox.utils.benchmark import (
    flop_counter,
    full_precision_step,
    measure_gemm_peak,
    peak_memory_bytes,
    reset_peak_memory,
    synchronize,
)
from sakbox.utils.cli import load_config
from sakbox.utils.cpu_malloc import apply_cpu_malloc
from sakbox.utils.pretrained import disable_pretrained
from sakbox.utils.setup_env import adapt_cfg_to_device, enable_amp

__all__ = [
    'PRECISIONS', 'PHASES', 'build_benchmark_cfg', 'crop_size', 'dataset_root',
    'synthetic_batch', 'time_dataloader', 'PhaseProbe', 'build_model_and_optim',
    'benchmark_precision'
]

#: Precision name -> (autocast dtype for enable_amp or None, GEMM dtype).
PRECISIONS = {
    'fp32': (None, torch.float32),
    'bf16': ('bfloat16', torch.bfloat16),
    'fp16': ('float16', torch.float16),
}
PHASES = ('teachers', 'student_fwd', 'backward', 'optim')



def build_benchmark_cfg(config: str, precision: str, cfg_options: Optional[dict] = None,
                        batch_size: Optional[int] = None,
                        teacher_precision: Optional[str] = None) -> Config:
    """Load the config as ``tools/train.py`` does, with pretrained weights off.

    Args:
        config: The config file.
        precision: ``'fp32'``, ``'bf16'`` or ``'fp16'`` (:data:`PRECISIONS`; AMP
            through :func:`sakbox.utils.enable_amp` for the half precisions).
        cfg_options: Parsed ``--cfg-options``.
        batch_size: Overrides ``train_dataloader.batch_size``.
        teacher_precision: ``teacher_precision`` of distillers that accept it
            (default: ``'fp32'`` for the fp32 step, the config value otherwise).

    Returns:
        Config: The config, without ``load_from``.

    Raises:
        FileNotFoundError: ``config`` does not exist (named in the message).
    """
    cfg = load_config(config, cfg_options)
    cfg.launcher = 'none'
    disable_pretrained(cfg.model)
    cfg.pop('load_from', None)
    if batch_size is not None:
        cfg.train_dataloader.batch_size = batch_size
    amp_dtype = PRECISIONS[precision][0]
    if amp_dtype is not None:
        enable_amp(cfg, amp_dtype)
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


def benchmark_precision(cfg: Config, precision: str, device: torch.device, iters: int = 3,
                        warmup: int = 1, synthetic: bool = False, loader_batches: int = 10,
                        seed: int = 0, gemm_n: int = 2048,
                        gemm_max_seconds: Optional[float] = 20.0) -> Dict[str, object]:
    """Build, warm up, count FLOPs and time the train steps of one precision.

    Args:
        cfg: The config (:func:`build_benchmark_cfg` for ``precision``).
        precision: Its precision name.
        device: Where to run.
        iters: Timed steps (median kept).
        warmup: Untimed steps in ``precision`` after the fp32 FLOP-counting step.
        synthetic: Random batches even when the dataset is on disk.
        loader_batches: Batches read to time the real dataloader.
        seed: Seed of the model and the synthetic batch.
        gemm_n: Size of the peak GEMM.
        gemm_max_seconds: Time budget of the peak GEMM.

    Returns:
        dict: The figures (``s_per_step``, ``images_per_s``, ``flops_split``,
        ``peak_ratio``, ``phase_seconds``, ``peak_memory_bytes``, ...).
    """
    batch_size = int(cfg.train_dataloader.batch_size)
    # As tools/train.py: cpu_malloc = 'retain' keeps freed memory (runs without CUDA).
    malloc_retained = apply_cpu_malloc(cfg)
    torch.manual_seed(seed)
    model, optim_wrapper = build_model_and_optim(cfg, device)
    root = dataset_root(cfg)
    use_synthetic = synthetic or root is None or not osp.exists(root)
    params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith('teachers.'))
    result: Dict[str, object] = dict(precision=precision, batch_size=batch_size, params=params,
                                     optim_wrapper=cfg.optim_wrapper.get('type', 'OptimWrapper'),
                                     synthetic=use_synthetic, malloc_retained=malloc_retained)
    if 'teacher_precision' in cfg.model:
        result['teacher_precision'] = cfg.model.teacher_precision
    if use_synthetic:
        if not synthetic:
            print(f'note: dataset root {root!r} not found: timing synthetic batches of the '
                  'crop size (the data loader is not measured)')
        batches = [synthetic_batch(model, batch_size, crop_size(cfg), seed)]
        result['loader_images_per_s'] = None
    else:
        result['loader_images_per_s'], batches = time_dataloader(cfg, loader_batches)
    size = tuple(int(s) for s in batches[0]['inputs'][0].shape[-2:])
    result['input_size'] = list(size)

    probe = PhaseProbe(model, optim_wrapper)
    # FLOPs of one real step, untimed (the counter adds overhead) and in fp32: the
    # count does not depend on the precision, and the counter cannot follow SAM's
    # einsum under inference mode + autocast (see full_precision_step).
    probe.counter = flop_counter()
    with full_precision_step(model, optim_wrapper), probe.counter:
        flops = probe.run(model, batches[0], optim_wrapper)['flops']
    probe.counter = None
    for i in range(warmup):  # in the precision under test
        probe.run(model, batches[i % len(batches)], optim_wrapper)
    reset_ok = reset_peak_memory(device)
    phases = []
    for i in range(iters):
        phases.append(probe.run(model, batches[i % len(batches)], optim_wrapper)['seconds'])
    peak = peak_memory_bytes(device)
    seconds = {k: statistics.median(p[k] for p in phases) for k in phases[0]}
    step_s = seconds['total']
    gemm = measure_gemm_peak(PRECISIONS[precision][1], device, n=gemm_n,
                             max_seconds=gemm_max_seconds)
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
