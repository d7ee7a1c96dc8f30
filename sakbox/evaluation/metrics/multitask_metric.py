"""All task metrics of a multi-task model in one MMEngine metric, plus Delta_m."""
import copy
from typing import Any, Dict, List, Mapping, Optional, Sequence

from mmengine.logging import print_log

from sakbox.registry import METRICS

from ...structures.tasks import find_task
from ..functional import delta_m, metric_key
from .base_task_metric import BaseTaskMetric

_REQUIRED = object()

#: Per-dataset additions to the tasks' default metric configs (``TaskSpec.metric``).
_DATASET_DEFAULTS: Dict[str, Dict[str, dict]] = {
    'nyud': dict(semseg=dict(num_classes=40), edge=dict(dataset='nyud')),
    'pascal': dict(semseg=dict(num_classes=21), human_parts=dict(num_classes=7),
                   edge=dict(dataset='pascal')),
}


@METRICS.register_module()
class MultiTaskMetric(BaseTaskMetric):
    """Evaluates every task of a multi-task model and reports ``multitask/delta_m``.

    Builds one task metric per task from its ``TaskSpec.metric`` default
    (:class:`SegMetric`, :class:`DepthTaskMetric`, :class:`NormalsMetric`,
    :class:`SaliencyMetric`, :class:`EdgeMetric` for the built-in tasks) and
    feeds it ``pred_<task>`` / ``gt_<task>`` of each data sample. Keys are
    ``<task>/<metric>`` (``semseg/mIoU``, ``depth/RMSE``, ``normals/mErr``,
    ``edge/odsF``, ``sal/maxF``, ``human_parts/mIoU``, ...) and
    ``multitask/delta_m`` (percent; positive = better than single-task).

    Args:
        tasks: Task names to evaluate.
        single_task_baselines: ``{key or task: value}`` single-task reference
            values for Delta_m, in sakbox's units (percent for mIoU / maxF /
            odsF, metres for RMSE, degrees for mErr); a task name stands for
            its primary metric. Every task needs one. Required: sakbox ships no
            paper numbers; measure your single-task runs and turn their metric
            files into this dict with
            ``tools/analysis_tools/compute_single_task_baselines.py``. Pass
            ``None`` explicitly to skip Delta_m.
        dataset: ``'nyud'`` or ``'pascal'``: fills dataset defaults (number of
            classes, the edge ``max_dist``).
        task_metric_cfgs: Per-task overrides merged into the default metric
            configs, e.g. ``dict(edge=dict(nproc=4))``.
        lower_is_better: Per-key overrides of the metric directions used in
            Delta_m (defaults: RMSE / errors lower, the rest higher).
        collect_device, collect_dir: See :class:`BaseTaskMetric`.
        prefix: Optional prefix before every key (default: none).
    """
    default_prefix = ''

    def __init__(self, tasks: Sequence[str], single_task_baselines: Any = _REQUIRED,
                 dataset: Optional[str] = None,
                 task_metric_cfgs: Optional[Mapping[str, dict]] = None,
                 lower_is_better: Optional[Mapping[str, bool]] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__('multitask', collect_device=collect_device, prefix=prefix or '',
                         collect_dir=collect_dir)
        if isinstance(tasks, str) or not tasks:
            raise ValueError(f'tasks must be a non-empty list of task names, got {tasks!r}')
        if dataset is not None and dataset not in _DATASET_DEFAULTS:
            raise ValueError(f'dataset must be one of {sorted(_DATASET_DEFAULTS)} or None, '
                             f'got {dataset!r}')
        unknown = [t for t in (task_metric_cfgs or {}) if t not in tasks]
        if unknown:
            raise KeyError(f'task_metric_cfgs has tasks {unknown} that are not in tasks={tasks}')
        self.tasks = list(tasks)
        self.dataset = dataset
        self.metrics: Dict[str, BaseTaskMetric] = {}
        for task in self.tasks:
            spec = find_task(task)
            cfg = (spec.metric_cfg() if spec is not None else None) or {}
            cfg.update(_DATASET_DEFAULTS.get(dataset, {}).get(task, {}))
            cfg.update(copy.deepcopy(dict((task_metric_cfgs or {}).get(task, {}))))
            if 'type' not in cfg:
                raise KeyError(f'no default metric for task {task!r}; give '
                               f'task_metric_cfgs[{task!r}] with a type')
            metric = METRICS.build(cfg)
            if not isinstance(metric, BaseTaskMetric):
                raise TypeError(f'metric of task {task!r} must be a BaseTaskMetric, got '
                                f'{type(metric).__name__}')
            self.metrics[task] = metric
        if single_task_baselines is _REQUIRED:
            raise ValueError(
                'MultiTaskMetric needs single_task_baselines for multitask/delta_m, e.g. '
                "dict(semseg=..., depth=..., normals=..., edge=...) in sakbox's units. "
                'sakbox does not ship the SAK paper\'s single-task numbers: evaluate your '
                'single-task runs and run tools/analysis_tools/compute_single_task_baselines.py '
                'on their metric files, or pass single_task_baselines=None to skip Delta_m.')
        self.baselines = self._check_baselines(single_task_baselines)
        self.lower_is_better = dict(lower_is_better or {})

    def _check_baselines(self, baselines: Optional[Mapping[str, float]]
                         ) -> Optional[Dict[str, float]]:
        if baselines is None:
            return None
        out = {metric_key(k): float(v) for k, v in dict(baselines).items()}
        missing = [t for t in self.tasks if not any(k.startswith(t + '/') for k in out)]
        extra = [k for k in out if k.split('/', 1)[0] not in self.tasks]
        if missing or extra:
            raise KeyError(f'single_task_baselines must cover exactly the evaluated tasks '
                           f'{self.tasks}: missing {missing}, not evaluated {extra}')
        return out

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Dataset meta, shared with the task metrics (class names, channels)."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        for metric in getattr(self, 'metrics', {}).values():
            metric.dataset_meta = dataset_meta

    def sample_result(self, sample: Any) -> Dict[str, Any]:
        """Per-task results of one data sample."""
        return {task: metric.sample_result(sample) for task, metric in self.metrics.items()}

    def compute_sample(self, pred, gt):  # pragma: no cover - sample_result is overridden
        raise NotImplementedError

    def resolve(self, result: Dict[str, Any]) -> Dict[str, Any]:
        """Wait for every task's pending per-image computation."""
        return {task: self.metrics[task].resolve(r) for task, r in result.items()}

    def release(self) -> None:
        """Release every task metric's resources (worker pools)."""
        for metric in self.metrics.values():
            metric.release()

    def compute_metrics(self, results: List[Dict[str, Any]]) -> Dict[str, Any]:
        """All task metrics (``<task>/<name>``) and ``multitask/delta_m``."""
        out: Dict[str, Any] = {}
        for task, metric in self.metrics.items():
            scores = metric.compute_metrics([r[task] for r in results])
            out.update({f'{task}/{name}': value for name, value in scores.items()})
        if self.baselines is not None:
            out['multitask/delta_m'] = delta_m(out, self.baselines, self.lower_is_better)
            print_log('multitask/delta_m vs single-task baselines ' + ', '.join(
                f'{k}={v:g}' for k, v in self.baselines.items()), logger='current')
        return out
