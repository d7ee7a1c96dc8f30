"""Time the official SAK stage-2 training step, built from a local clone of its code.

The official repository (``github:innovator-zero/SAK``) is imported from
``--official-root`` at run time, never copied: its model
(``models.mt_distiller.MTMT_Distiller``), its losses (``losses.get_criterion``)
and its own step function (``train_s2.train_one_iter_distiller``) run as they
are, on the CPU, with random weights (every pretrained load is switched off)
and without DDP / SyncBN (one process, as the sakbox side). The step is split
into the phases of :class:`sakbox.analysis.train_benchmark.PhaseProbe` by
wrapping instance methods and ``torch.nn.utils.clip_grad_norm_`` only while a
step runs.

The official modules have generic top-level names (``models``, ``datasets``,
``utils``, ``losses``): run this in its own process (``python -m
sakbox.analysis.step_comparison --side official``), never next to sakbox's own
models.
"""
import contextlib
import importlib
import os
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import torch
from torch.utils.flop_counter import FlopCounterMode

from sakbox.utils.benchmark import flop_counter, peak_memory_bytes, reset_peak_memory

__all__ = ['OFFICIAL_FILES', 'OFFICIAL_NYUD_TASKS', 'check_official_root', 'import_official',
           'no_pretrained_weights', 'build_official_step', 'official_batch',
           'benchmark_official_step']

#: Files that identify a clone of the official SAK repository.
OFFICIAL_FILES = ('train_s2.py', 'losses.py', 'models/mt_distiller.py', 'models/backbones/sak.py')

#: The NYUD-v2 tasks of the official stage-2 config (``configs/s2/nyud_s2.yml``).
OFFICIAL_NYUD_TASKS = ('semseg', 'normals', 'edge', 'depth')


def check_official_root(root: str) -> str:
    """Return ``root`` made absolute, or raise naming the missing file.

    Args:
        root (str): A clone of ``innovator-zero/SAK``.

    Returns:
        str: The absolute root.

    Raises:
        FileNotFoundError: ``root`` or one of :data:`OFFICIAL_FILES` is missing.
    """
    root = osp.abspath(root)
    missing = [f for f in OFFICIAL_FILES if not osp.isfile(osp.join(root, f))]
    if missing:
        raise FileNotFoundError(
            f'--official-root {root} is not a clone of github.com/innovator-zero/SAK: '
            f'missing {", ".join(missing)}')
    return root


def import_official(root: str, name: str):
    """Import module ``name`` of the official code (``root`` first on ``sys.path``).

    Args:
        root (str): The official clone (see :func:`check_official_root`).
        name (str): A module of it, e.g. ``'models.mt_distiller'``.

    Returns:
        module: The module.
    """
    root = check_official_root(root)
    if sys.path[0] != root:
        sys.path.insert(0, root)
    module = importlib.import_module(name)
    where = osp.abspath(getattr(module, '__file__', '') or '')
    if not where.startswith(root + os.sep):
        raise ImportError(f'{name!r} was imported from {where}, not from the official clone '
                          f'{root}: run the official side in a process of its own')
    return module


@contextlib.contextmanager
def no_pretrained_weights(root: str) -> Iterator[None]:
    """Build the official models with random weights (nothing is downloaded).

    The official student asks timm for ``pretrained=True`` ImageNet weights;
    its module-level ``build_model_with_cfg`` is wrapped to pass
    ``pretrained=False`` while inside. Teachers take ``pretrain=False`` in
    their configs (:func:`build_official_step`).

    Args:
        root (str): The official clone.

    Yields:
        None
    """
    vit = import_official(root, 'models.backbones.vit')
    original = vit.build_model_with_cfg

    def random_init(cls, variant, pretrained=False, *args, **kwargs):
        return original(cls, variant, False, *args, **kwargs)

    vit.build_model_with_cfg = random_init
    try:
        yield
    finally:
        vit.build_model_with_cfg = original


def build_official_step(root: str, img_size: Tuple[int, int] = (448, 576),
                        tasks: Tuple[str, ...] = OFFICIAL_NYUD_TASKS, vit_name: str = 'vit_base',
                        teachers: Optional[Dict[str, str]] = None, lr: float = 2e-5,
                        weight_decay: float = 1e-6, max_iters: int = 40000):
    """The official NYUD stage-2 model, optimizer and poly scheduler (random weights).

    Mirrors ``configs/s2/nyud_s2.yml`` of the official code: ViT-B SAK student
    (down_ratio 4, no aligner, MoR router with noisy gating), DINOv2-B /
    CLIP-B / SAM-B teachers, AdamW (lr 2e-5, wd 1e-6), poly decay.

    Args:
        root (str): The official clone.
        img_size (Tuple[int, int]): Input size (the official NYUD size by default).
        tasks (Tuple[str, ...]): Official task names.
        vit_name (str): Official student ViT (``'vit_base'``, ``'vit_large'``, ...).
        teachers (Dict[str, str], optional): ``{name: official backbone_type}``;
            default ``dinov2_base`` / ``timmclip_base`` / ``sam_base``.
        lr (float): Learning rate.
        weight_decay (float): Weight decay.
        max_iters (int): Length of the poly schedule.

    Returns:
        Tuple[nn.Module, Optimizer, LRScheduler]: The official model (train
        mode), optimizer and scheduler.
    """
    teachers = teachers or dict(dinov2='dinov2_base', clip='timmclip_base', sam='sam_base')
    distiller = import_official(root, 'models.mt_distiller')
    losses = import_official(root, 'losses')
    train_utils = import_official(root, 'train_utils')
    tea_configs = {name: dict(backbone_type=t, pretrain=False) for name, t in teachers.items()}
    stu_config = dict(backbone=dict(backbone_type='sak', vit_name=vit_name, down_ratio=4,
                                    aligner=False, router_type='mor', noisy_gating=True,
                                    freeze_vit=False))
    with no_pretrained_weights(root):
        model = distiller.MTMT_Distiller(
            img_size=tuple(img_size), tea_configs=tea_configs, stu_config=stu_config,
            loss_type='cos+l1', task_out=True,
            stu_criterion=losses.get_criterion('nyud', list(tasks)), dataname='nyud',
            tasks=list(tasks))
    config = dict(optimizer='adamw', lr=lr, weight_decay=weight_decay, scheduler='poly',
                  max_iters=max_iters)
    optimizer, scheduler = train_utils.get_optimizer_scheduler(config, model)
    return model.train(), optimizer, scheduler


def official_batch(batch_size: int, size: Tuple[int, int],
                   tasks: Tuple[str, ...] = OFFICIAL_NYUD_TASKS, seed: int = 0) -> dict:
    """A random batch in the official loader's layout.

    ``image`` (B, 3, H, W) normalised floats; ``semseg`` / ``edge`` (B, 1, H, W)
    float labels; ``depth`` (B, 1, H, W) positive metres; ``normals``
    (B, 3, H, W) unit vectors.

    Args:
        batch_size (int): B.
        size (Tuple[int, int]): (H, W).
        tasks (Tuple[str, ...]): Official task names.
        seed (int): Generator seed.

    Returns:
        dict: The batch.
    """
    gen = torch.Generator().manual_seed(seed)
    b, (h, w) = batch_size, size
    batch = dict(image=torch.randn(b, 3, h, w, generator=gen))
    makers: Dict[str, Callable[[], torch.Tensor]] = dict(
        semseg=lambda: torch.randint(0, 40, (b, 1, h, w), generator=gen).float(),
        edge=lambda: torch.randint(0, 2, (b, 1, h, w), generator=gen).float(),
        depth=lambda: torch.rand(b, 1, h, w, generator=gen) * 9.5 + 0.5,
        normals=lambda: torch.nn.functional.normalize(
            torch.randn(b, 3, h, w, generator=gen), dim=1))
    for task in tasks:
        batch[task] = makers[task]()
    return batch


class _OfficialPhases:
    """Phase marks of one official step (see :class:`PhaseProbe` for the phases)."""

    def __init__(self, model: torch.nn.Module, optimizer) -> None:
        self.counter: Optional[FlopCounterMode] = None
        self.marks: Dict[str, Tuple[float, float]] = {}
        self.teacher = [0.0, 0.0]
        for teacher in model.teachers.values():
            teacher.forward = self._wrap(teacher.forward, teacher=True)
        model.forward = self._wrap(model.forward, name='forward')
        optimizer.step = self._wrap(optimizer.step, name='optim_step')

    def now(self) -> Tuple[float, float]:
        flops = float(self.counter.get_total_flops()) if self.counter is not None else 0.0
        return time.perf_counter(), flops

    def _wrap(self, fn, name: str = '', teacher: bool = False):
        def wrapped(*args, **kwargs):
            t0 = self.now()
            if name:
                self.marks[f'{name}_start'] = t0
            out = fn(*args, **kwargs)
            t1 = self.now()
            if teacher:
                self.teacher = [a + (b - c) for a, b, c in zip(self.teacher, t1, t0)]
            if name:
                self.marks[f'{name}_end'] = t1
            return out
        return wrapped

    @contextlib.contextmanager
    def clip_marks(self) -> Iterator[None]:
        """Mark the end of backward where the official step starts clipping."""
        original = torch.nn.utils.clip_grad_norm_

        def clip(*args, **kwargs):
            self.marks['clip_start'] = self.now()
            return original(*args, **kwargs)

        torch.nn.utils.clip_grad_norm_ = clip
        try:
            yield
        finally:
            torch.nn.utils.clip_grad_norm_ = original


def benchmark_official_step(root: str, batch_size: int = 2, size: Tuple[int, int] = (448, 576),
                            iters: int = 2, warmup: int = 1, seed: int = 0,
                            count_flops: bool = True,
                            teachers: Optional[Dict[str, str]] = None) -> Dict[str, object]:
    """Build the official model and time its own training step.

    The step is the official ``train_s2.train_one_iter_distiller`` (zero_grad,
    forward with teachers, task + alpha * distillation loss, backward,
    clipping at 10, AdamW step) followed by the poly scheduler's step, with
    fp16 autocast off (it is CUDA-only in the official code).

    Args:
        root (str): The official clone.
        batch_size (int): Images per step.
        size (Tuple[int, int]): (H, W) of the batch.
        iters (int): Timed steps (median kept).
        warmup (int): Untimed steps before them.
        seed (int): Seed of the weights and the batch.
        count_flops (bool): Count FLOPs on one extra untimed step first.
        teachers (Dict[str, str], optional): See :func:`build_official_step`.

    Returns:
        dict: ``s_per_step``, ``step_times``, ``phase_seconds``, ``flops_split``
        (None without ``count_flops``), ``peak_memory_bytes``, ``params``.
    """
    torch.manual_seed(seed)
    model, optimizer, scheduler = build_official_step(root, size, teachers=teachers)
    train_s2 = import_official(root, 'train_s2')
    train_s2.to_cuda = lambda batch: batch  # the official step moves batches to CUDA
    scaler = torch.amp.GradScaler('cuda', enabled=False)
    meters = import_official(root, 'utils').RunningMeter
    tasks = list(model.tasks)
    train_loss = {t: meters() for t in tasks}
    kd_loss = {f'{n}_level{i + 1}': meters() for n in model.teachers for i in range(4)}
    batch = official_batch(batch_size, size, tuple(tasks), seed)
    probe = _OfficialPhases(model, optimizer)

    def step() -> Dict[str, Dict[str, float]]:
        probe.marks.clear()
        probe.teacher = [0.0, 0.0]
        start = probe.now()
        with probe.clip_marks():
            train_s2.train_one_iter_distiller(True, tasks, 1.0, batch, model, optimizer,
                                              train_loss, kd_loss, scaler, 10, False)
        scheduler.step()
        end = probe.now()
        fwd, clip = probe.marks['forward_end'], probe.marks['clip_start']
        out: Dict[str, Dict[str, float]] = {}
        for k, key in enumerate(('seconds', 'flops')):
            out[key] = dict(teachers=probe.teacher[k],
                            student_fwd=fwd[k] - start[k] - probe.teacher[k],
                            backward=clip[k] - fwd[k], optim=end[k] - clip[k],
                            total=end[k] - start[k])
        return out

    flops = None
    if count_flops:
        probe.counter = flop_counter()
        with probe.counter:
            flops = step()['flops']
        probe.counter = None
    for _ in range(warmup):
        step()
    reset_ok = reset_peak_memory('cpu')
    phases: List[Dict[str, float]] = [step()['seconds'] for _ in range(iters)]
    peak = peak_memory_bytes('cpu')
    seconds = {k: statistics.median(p[k] for p in phases) for k in phases[0]}
    return dict(side='official', s_per_step=seconds['total'],
                step_times=[p['total'] for p in phases], phase_seconds=seconds,
                flops_split=flops, peak_memory_bytes=peak, peak_memory_since_start=not reset_ok,
                params=sum(p.numel() for p in model.student.parameters()),
                batch_size=batch_size, input_size=list(size), threads=torch.get_num_threads())
