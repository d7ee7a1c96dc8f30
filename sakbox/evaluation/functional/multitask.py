"""Multi-task performance relative to single-task baselines (Delta_m)."""
from typing import FrozenSet, Mapping, Optional

from ...structures.tasks import TaskTable, find_task, get_task, task_names

#: Read-only ``{task: primary metric name}`` view of the registered tasks
#: (``TaskSpec.primary_metric``) in report order (``TaskSpec.report_rank``): the
#: metric each task is ranked by and that Delta_m uses by default.
PRIMARY_METRICS = TaskTable(lambda spec: spec.primary_metric, report_order=True)

#: Metric names that are lower-is-better whatever the task.
_GENERIC_LOWER_IS_BETTER = frozenset({'loss'})


def lower_is_better_names() -> FrozenSet[str]:
    """Metric names (the part after ``<task>/``) for which lower is better.

    The union of every registered task's ``TaskSpec.lower_is_better`` and ``loss``.
    """
    names = set(_GENERIC_LOWER_IS_BETTER)
    for task in task_names():
        names |= get_task(task).lower_is_better
    return frozenset(names)


def metric_key(task_or_key: str) -> str:
    """Full metric key: a task name maps to ``<task>/<primary metric>``.

    Args:
        task_or_key: ``'semseg'`` or a key such as ``'semseg/mIoU'``.

    Returns:
        str: The full key.
    """
    if '/' in task_or_key:
        return task_or_key
    spec = find_task(task_or_key)
    if spec is None:
        raise KeyError(f'unknown task {task_or_key!r}; known: {sorted(PRIMARY_METRICS)} '
                       '(or give a full key such as "semseg/mIoU")')
    return spec.primary_key


def is_lower_better(key: str, overrides: Optional[Mapping[str, bool]] = None) -> bool:
    """Whether lower values of metric ``key`` are better.

    Args:
        key: Full metric key, e.g. ``'depth/RMSE'``.
        overrides: Optional ``{key: lower_is_better}`` taking precedence.

    Returns:
        bool: True for error-like metrics.
    """
    if overrides and key in overrides:
        return bool(overrides[key])
    return key.rsplit('/', 1)[-1] in lower_is_better_names()


def delta_m(metrics: Mapping[str, float], baselines: Mapping[str, float],
            lower_is_better: Optional[Mapping[str, bool]] = None) -> float:
    """Average relative gain over single-task baselines, in percent.

    ``Delta_m = 100 / T * sum_t (-1)^{l_t} (M_t - M_b,t) / M_b,t`` with
    ``l_t = 1`` for metrics where lower is better (Maninis et al., 2019).
    Each metric must be in the same unit as its baseline.

    Args:
        metrics: Evaluated metrics, full keys (``'semseg/mIoU'`` ...).
        baselines: ``{key or task: baseline value}``; a task name stands for
            its primary metric (:data:`PRIMARY_METRICS`).
        lower_is_better: Optional per-key direction overrides.

    Returns:
        float: Delta_m in percent (positive = better than single-task).
    """
    if not baselines:
        raise ValueError('delta_m needs at least one baseline')
    terms = []
    for name, base in baselines.items():
        key = metric_key(name)
        if key not in metrics:
            raise KeyError(f'baseline {key!r} has no evaluated metric; evaluated: '
                           f'{sorted(metrics)}')
        base = float(base)
        if base == 0:
            raise ValueError(f'baseline {key!r} is 0; Delta_m divides by it')
        sign = -1.0 if is_lower_better(key, lower_is_better) else 1.0
        terms.append(sign * (float(metrics[key]) - base) / base)
    return 100.0 * sum(terms) / len(terms)
