"""Test-time peak memory and latency of a model built teacher-free or with its teachers.

The logic of ``tools/analysis_tools/benchmark_test_memory.py``; the measuring is
:mod:`sakbox.utils.benchmark`.
"""
import copy
import statistics
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from sakbox.registry import MODELS
from sakbox.structures import MultiTaskDataSample
from sakbox.utils.benchmark import (
    peak_memory_bytes,
    reset_peak_memory,
    resident_bytes,
    time_calls,
)
from sakbox.utils.eval_model_cfg import prepare_model_cfg_for_test
from sakbox.utils.pretrained import disable_pretrained

__all__ = ['eval_input_size', 'eval_batch_size', 'tensor_bytes', 'model_bytes',
           'build_phase_model_cfg', 'random_batch', 'measure_test_phase']


def eval_input_size(cfg: Config) -> Tuple[int, int]:
    """(H, W) of the test inputs: ``crop_size``, else the student's ``img_size``, else 448x576."""
    size = cfg.get('crop_size') or cfg.model.get('student', {}).get('img_size') or (448, 576)
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def eval_batch_size(cfg: Config) -> int:
    """``test_dataloader.batch_size``, else 1."""
    loader = cfg.get('test_dataloader') or {}
    return int(loader.get('batch_size') or 1)


def tensor_bytes(tensors) -> int:
    """Total bytes of an iterable of tensors."""
    return sum(t.numel() * t.element_size() for t in tensors)


def model_bytes(model: torch.nn.Module) -> Dict[str, int]:
    """Bytes of the model's own parameters + buffers and of its teachers' (0 without).

    Teachers live outside the module tree (see ``BaseDistiller``), so they are
    counted separately.
    """
    own = tensor_bytes(model.parameters()) + tensor_bytes(model.buffers())
    teachers = getattr(model, 'teachers', None)
    teacher = 0 if teachers is None else (tensor_bytes(teachers.parameters())
                                          + tensor_bytes(teachers.buffers()))
    return dict(model_bytes=own, teacher_bytes=teacher)


def build_phase_model_cfg(cfg: Config, build_teachers: bool) -> dict:
    """The model config of a phase: the test-time build, teachers on or off, no weights.

    Args:
        cfg (Config): The full config.
        build_teachers (bool): Keep the teachers (as training builds the model).

    Returns:
        dict: A model config that downloads nothing.
    """
    model_cfg = copy.deepcopy(cfg.model)
    prepare_model_cfg_for_test(model_cfg, has_checkpoint=True)
    disable_pretrained(model_cfg)
    if build_teachers:
        if not model_cfg.get('teachers'):
            raise KeyError(f'the model {model_cfg.get("type")} of this config has no '
                           '`teachers`: nothing to compare the teacher-free build with')
        model_cfg['build_teachers'] = True
    return model_cfg


def random_batch(batch_size: int, size: Sequence[int], seed: int = 0) -> dict:
    """A collated batch of random uint8 images with test-time metainfo (no ground truth)."""
    g = torch.Generator().manual_seed(seed)
    h, w = int(size[0]), int(size[1])
    items = []
    for i in range(batch_size):
        sample = MultiTaskDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                                   pad_shape=(h, w), img_id=str(i)))
        items.append(dict(inputs=torch.randint(0, 256, (3, h, w), dtype=torch.uint8,
                                               generator=g), data_samples=sample))
    return pseudo_collate(items)


def measure_test_phase(cfg: Config, build_teachers: bool, run_teachers: bool = False,
                       size: Optional[Sequence[int]] = None, batch_size: Optional[int] = None,
                       device: Optional[str] = None, repeat: int = 3,
                       warmup: int = 1) -> Dict[str, object]:
    """Build one phase's model and time ``test_step`` on random inputs, in this process.

    Run each phase in a fresh process for peaks that do not mix
    (``tools/analysis_tools/benchmark_test_memory.py`` does).

    Args:
        cfg (Config): The full config (``register_all_modules`` already called).
        build_teachers (bool): Build the teachers (as training builds the model).
        run_teachers (bool): Also run the teachers on every batch.
        size (Sequence[int], optional): (H, W) (default :func:`eval_input_size`).
        batch_size (int, optional): Images per step (default :func:`eval_batch_size`).
        device (str, optional): ``'cpu'`` or ``'cuda'`` (default: cuda when available).
        repeat (int): Timed ``test_step`` calls (median kept).
        warmup (int): Untimed calls first.

    Returns:
        Dict[str, object]: ``baseline_bytes`` (resident after the imports),
        ``peak_bytes``, ``model_peak_bytes`` (peak above the baseline; on CUDA
        the allocator's peak), ``model_bytes``, ``teacher_bytes``,
        ``ms_per_step``, ``input_size``, ``batch_size``, ``device``, ``threads``.
    """
    device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    size = tuple(size) if size else eval_input_size(cfg)
    batch_size = batch_size or eval_batch_size(cfg)
    model_cfg = build_phase_model_cfg(cfg, build_teachers)
    batch = random_batch(batch_size, size)

    baseline = resident_bytes()
    reset_peak_memory('cpu')
    if device.type == 'cuda':
        reset_peak_memory(device)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'sakbox')):
        model = MODELS.build(model_cfg)
    model.to(device).eval()
    if build_teachers and getattr(model, 'teachers', None) is None:
        raise RuntimeError(f'{type(model).__name__} built no teachers with build_teachers=True')
    sizes = model_bytes(model)

    def step() -> None:
        with torch.no_grad():
            model.test_step(batch)
            if run_teachers:
                data = model.data_preprocessor(batch, False)
                model.forward_teachers(data['inputs'])

    times = time_calls(step, repeat=repeat, warmup=warmup, device=device)
    cpu_peak = peak_memory_bytes('cpu')
    result = dict(device=device.type, input_size=list(size),
                  batch_size=batch_size, baseline_bytes=baseline, peak_bytes=cpu_peak,
                  model_peak_bytes=(None if cpu_peak is None or baseline is None
                                    else cpu_peak - baseline),
                  ms_per_step=statistics.median(times), threads=torch.get_num_threads(),
                  **sizes)
    if device.type == 'cuda':
        result['model_peak_bytes'] = peak_memory_bytes(device)
    return result
