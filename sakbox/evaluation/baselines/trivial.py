"""Trivial predictors fitted on a config's training split and scored on its evaluation split.

Two predictors, both read through the dataset's evaluation pipeline:

* **majority class** — every pixel gets the most frequent training class →
  ``semseg/mIoU`` with the project's definition
  (:mod:`sakbox.evaluation.functional.segmentation`: dataset-level confusion,
  ignore 255, percent);
* **mean depth** — every pixel gets the training mean of the valid depth →
  ``depth/RMSE`` pooled over the valid pixels
  (:mod:`sakbox.evaluation.functional.depth`).

:func:`report_trivial_baselines` sets a model's metrics next to them and checks
"semseg mIoU >= 2x majority" and "depth RMSE <= 0.7x mean-depth"
(``tools/analysis_tools/trivial_baselines.py`` is the command line).
"""
import copy
import inspect
from typing import Dict, Iterator, Tuple

import numpy as np

from ..functional.depth import depth_metrics, depth_stats
from ..functional.segmentation import segmentation_areas, segmentation_metrics
from ..metric_files import find_metric

__all__ = [
    'build_baseline_datasets', 'majority_class', 'majority_miou', 'mean_depth',
    'mean_depth_rmse', 'resolve_absent_class_iou', 'report_trivial_baselines',
    'trivial_baselines'
]

IGNORE_INDEX = 255
#: Valid ground-truth depth range of the project's depth metric (exclusive), metres.
DEPTH_RANGE = (0.0, 80.0)
#: (metric key, trivial predictor, ratio bound, direction) of the two checks.
CHECKS = (('semseg/mIoU', 'majority class', 2.0, '>='),
          ('depth/RMSE', 'mean depth', 0.7, '<='))




# ---------------------------------------------------------------- datasets
def _with_pipeline(ds_cfg: dict, pipeline: list) -> dict:
    """A copy of a dataset config with ``pipeline``, without repeat wrappers."""
    ds_cfg = copy.deepcopy(dict(ds_cfg))
    kind = str(ds_cfg.get('type', ''))
    if 'dataset' in ds_cfg and kind.endswith(('RepeatDataset', 'ClassBalancedDataset')):
        return _with_pipeline(ds_cfg['dataset'], pipeline)  # repeats change no frequency
    if 'datasets' in ds_cfg:
        ds_cfg['datasets'] = [_with_pipeline(d, pipeline) for d in ds_cfg['datasets']]
        return ds_cfg
    if 'dataset' in ds_cfg:
        ds_cfg['dataset'] = _with_pipeline(ds_cfg['dataset'], pipeline)
        return ds_cfg
    ds_cfg['pipeline'] = copy.deepcopy(list(pipeline))
    ds_cfg['test_mode'] = True
    return ds_cfg


def _eval_pipeline(ds_cfg: dict) -> list:
    while 'pipeline' not in ds_cfg and ('dataset' in ds_cfg or 'datasets' in ds_cfg):
        ds_cfg = ds_cfg['dataset'] if 'dataset' in ds_cfg else ds_cfg['datasets'][0]
    if 'pipeline' not in ds_cfg:
        raise KeyError(f'evaluation dataset config of type {ds_cfg.get("type")!r} has no '
                       '"pipeline"')
    return list(ds_cfg['pipeline'])


def build_baseline_datasets(cfg, split: str = 'val'):
    """Build the training and evaluation datasets, both with the evaluation pipeline.

    The training set gets the evaluation pipeline (no crops, flips or
    rescaling), so its statistics describe the stored annotations.

    Args:
        cfg (Config): A full config with ``train_dataloader`` and ``<split>_dataloader``.
        split: ``'val'`` or ``'test'``.

    Returns:
        tuple: ``(train_dataset, eval_dataset)``.

    Raises:
        KeyError: If a dataloader or its dataset is missing from the config.
    """
    from mmengine.registry import DefaultScope

    import sakbox.datasets  # noqa: F401  (registers datasets and transforms; no model stack)
    from sakbox.registry import DATASETS

    cfgs = {}
    for key in ('train_dataloader', f'{split}_dataloader'):
        loader = cfg.get(key)
        if not loader or 'dataset' not in loader:
            raise KeyError(f'config {cfg.filename} has no {key}.dataset')
        cfgs[key] = loader['dataset']
    pipeline = _eval_pipeline(cfgs[f'{split}_dataloader'])
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'sakbox')):
        train = DATASETS.build(_with_pipeline(cfgs['train_dataloader'], pipeline))
        evaluation = DATASETS.build(_with_pipeline(cfgs[f'{split}_dataloader'], pipeline))
    return train, evaluation


def iter_gt(dataset, task: str) -> Iterator[np.ndarray]:
    """Yield the ``task`` ground truth of every sample, read through the pipeline.

    Args:
        dataset: A dataset whose items are ``dict(inputs, data_samples)`` (packed)
            or pipeline results with ``gt_<task>``.
        task: Task name.

    Yields:
        np.ndarray: (C, H, W) packed maps, or the (H, W[, C]) unpacked arrays.
    """
    for i in range(len(dataset)):
        item = dataset[i]
        sample = item.get('data_samples') if isinstance(item, dict) else None
        if sample is not None and f'gt_{task}' in sample:
            data = getattr(sample, f'gt_{task}').data
            yield data.cpu().numpy() if hasattr(data, 'cpu') else np.asarray(data)
        elif isinstance(item, dict) and f'gt_{task}' in item:
            yield np.asarray(item[f'gt_{task}'])
        else:
            raise KeyError(f'sample {i} of {type(dataset).__name__} has no gt_{task}')


def dataset_tasks(dataset) -> Tuple[str, ...]:
    """Tasks of a dataset (``tasks`` attribute or metainfo)."""
    tasks = getattr(dataset, 'tasks', None) or dataset.metainfo.get('tasks', ())
    return tuple(tasks)


def num_semseg_classes(dataset) -> int:
    """Number of semantic classes from the dataset meta (``task_channels`` or ``classes``)."""
    meta = dataset.metainfo
    channels = (meta.get('task_channels') or {}).get('semseg')
    if channels:
        return int(channels)
    if meta.get('classes'):
        return len(meta['classes'])
    raise KeyError(f'{type(dataset).__name__} metainfo has neither task_channels["semseg"] '
                   'nor classes')


# --------------------------------------------------------------- predictors
def majority_class(train, num_classes: int) -> Tuple[int, np.ndarray]:
    """Most frequent training class (ignore 255 skipped).

    Returns:
        tuple: ``(class index, (K,) int64 pixel counts)``.
    """
    counts = np.zeros(num_classes, dtype=np.int64)
    for gt in iter_gt(train, 'semseg'):
        gt = gt.reshape(-1).astype(np.int64)
        gt = gt[(gt != IGNORE_INDEX) & (gt >= 0) & (gt < num_classes)]
        counts += np.bincount(gt, minlength=num_classes)
    if counts.sum() == 0:
        raise ValueError('the training split has no labelled semseg pixel')
    return int(np.argmax(counts)), counts


def majority_miou(evaluation, cls: int, num_classes: int,
                  absent_class_iou: str = 'ignore') -> float:
    """mIoU (percent) of predicting ``cls`` everywhere on ``evaluation``."""
    total = np.zeros((4, num_classes), dtype=np.int64)
    for gt in iter_gt(evaluation, 'semseg'):
        total += segmentation_areas(np.full_like(gt, cls), gt, num_classes, IGNORE_INDEX)
    return float(segmentation_metrics(total, absent_class_iou=absent_class_iou)['mIoU'])


def mean_depth(train) -> float:
    """Mean of the valid training depth (the metric's valid range), metres."""
    total, n = 0.0, 0
    for gt in iter_gt(train, 'depth'):
        gt = gt.astype(np.float64).reshape(-1)
        valid = (gt > DEPTH_RANGE[0]) & (gt < DEPTH_RANGE[1])
        total += float(gt[valid].sum())
        n += int(valid.sum())
    if n == 0:
        raise ValueError('the training split has no valid depth pixel')
    return total / n


def mean_depth_rmse(evaluation, value: float) -> float:
    """RMSE (m) of predicting ``value`` everywhere, pooled over the valid pixels."""
    total = np.zeros(9, dtype=np.float64)
    for gt in iter_gt(evaluation, 'depth'):
        total += depth_stats(np.full(gt.shape, value, dtype=np.float64), gt, *DEPTH_RANGE)
    return depth_metrics(total)['RMSE']


def resolve_absent_class_iou(cfg, split: str, choice: str) -> str:
    """``zero`` / ``ignore`` as the config's evaluator computes the model's mIoU.

    ``auto`` looks, for each metric of the ``<split>_evaluator``, at an explicit
    ``absent_class_iou`` (on the metric or in ``task_metric_cfgs['semseg']``),
    then at the constructor default of the metric's type, of its semseg
    sub-metric's type and of the project's ``SegMetric``; else ``'ignore'``
    (mean over classes with a non-empty union).

    Args:
        cfg (Config): The full config.
        split: ``'val'`` or ``'test'``.
        choice: ``'auto'``, ``'zero'`` or ``'ignore'``.

    Returns:
        str: ``'zero'`` or ``'ignore'``.
    """
    if choice != 'auto':
        return choice
    evaluator = cfg.get(f'{split}_evaluator') or {}
    if isinstance(evaluator, dict) and 'metrics' in evaluator:  # dict(type='Evaluator', ...)
        evaluator = evaluator['metrics']
    metrics = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    types = []
    for m in metrics:
        sub = (m.get('task_metric_cfgs') or {}).get('semseg') or {}
        for spec in (m, sub):
            if 'absent_class_iou' in spec:
                return spec['absent_class_iou']
        types += [m.get('type'), sub.get('type')]
    from sakbox.registry import METRICS
    for kind in types + ['SegMetric']:
        try:
            param = inspect.signature(METRICS.get(kind)).parameters.get('absent_class_iou')
        except (KeyError, TypeError, ValueError):
            continue
        if param is not None and param.default is not inspect.Parameter.empty:
            return param.default
    return 'ignore'



def report_trivial_baselines(baselines: Dict[str, float], model: Dict[str, float]) -> Tuple[str, Dict[str, object]]:
    """Format the comparison table and evaluate the checks.

    Args:
        baselines: ``{'semseg/mIoU': majority mIoU, 'depth/RMSE': mean-depth RMSE}``
            (either may be missing).
        model: The model's metrics.

    Returns:
        tuple: ``(text, {check name: True | False | None})``; None when a number is missing.
    """
    rows = [('metric', 'model', 'trivial', 'predictor', 'ratio')]
    verdicts: Dict[str, object] = {}
    for key, predictor, bound, op in CHECKS:
        if key not in baselines:
            continue
        base, value = baselines[key], find_metric(model, key)
        ratio = value / base if value is not None and base > 0 else None
        rows.append((key, '-' if value is None else f'{value:.4f}', f'{base:.4f}', predictor,
                     '-' if ratio is None else f'{ratio:.2f}'))
        name = f'{key.split("/")[0]} {key.split("/")[1]} {op} {bound:g}x {predictor}'
        verdicts[name] = None if ratio is None else bool(
            ratio >= bound if op == '>=' else ratio <= bound)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, '  '.join('-' * w for w in widths))
    for name, ok in verdicts.items():
        lines.append(f'{name}: {"n/a (no model metric)" if ok is None else "yes" if ok else "NO"}')
    return '\n'.join(lines), verdicts




def trivial_baselines(cfg, split: str = 'val', absent_class_iou: str = 'auto'
                      ) -> Dict[str, object]:
    """Fit both trivial predictors on the training split and score them on ``split``.

    Args:
        cfg (Config): A full config with ``train_dataloader`` and ``<split>_dataloader``.
        split: ``'val'`` or ``'test'``.
        absent_class_iou: ``'auto'``, ``'zero'`` or ``'ignore'``
            (:func:`resolve_absent_class_iou`).

    Returns:
        dict: ``baselines`` (``{'semseg/mIoU': ..., 'depth/RMSE': ...}`` for the
        tasks both splits have), ``tasks``, ``num_train``, ``num_eval`` and, where
        computed, ``majority_class``, ``majority_class_name`` (or None),
        ``absent_class_iou`` (resolved) and ``mean_depth`` (metres).
    """
    train, evaluation = build_baseline_datasets(cfg, split)
    tasks = set(dataset_tasks(evaluation)) & set(dataset_tasks(train))
    out: Dict[str, object] = dict(tasks=sorted(tasks), num_train=len(train),
                                  num_eval=len(evaluation))
    baselines: Dict[str, float] = {}
    if 'semseg' in tasks:
        k = num_semseg_classes(evaluation)
        cls, _ = majority_class(train, k)
        absent = resolve_absent_class_iou(cfg, split, absent_class_iou)
        baselines['semseg/mIoU'] = majority_miou(evaluation, cls, k, absent)
        names = evaluation.metainfo.get('classes') or ()
        out.update(majority_class=cls, absent_class_iou=absent,
                   majority_class_name=names[cls] if cls < len(names) else None)
    if 'depth' in tasks:
        value = mean_depth(train)
        baselines['depth/RMSE'] = mean_depth_rmse(evaluation, value)
        out['mean_depth'] = value
    out['baselines'] = baselines
    return out
