"""One :class:`TaskSpec` per dense task, kept in a small registry.

Everything sakbox knows about a task lives in its spec: how its ground truth
is stored and padded, how transforms treat its map, how logits become
predictions, which metric ranks it and how the visualiser colours it. The
pipeline, the models, the metrics and the visualiser all read the spec, so a
new task needs one :func:`register_task` call and nothing else::

    register_task(TaskSpec(name='toy', gt_kind='label', primary_metric='mIoU',
                           postprocess=argmax_labels, color='labels',
                           metric=dict(type='SegMetric', task='toy')))

The built-in tasks are registered by :mod:`sakbox.structures.builtin_tasks`.

The registry is a plain ordered dict rather than an MMEngine ``Registry``:
specs are values, not types built from config dicts, and callers need the
registration order (the canonical task order) and a non-raising lookup
(:func:`find_task`) for tasks that are not registered.
"""
import copy
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Iterator, Mapping, Optional, Tuple, TypeVar

from torch import Tensor

#: Ignore value of every label map (and the pad value of label tasks).
IGNORE_INDEX = 255

#: Kinds of ground truth: class indices (int64) or real values (float32).
GT_KINDS = ('label', 'float')
#: Visualiser colour modes: palette colours, grey levels, ``(n + 1) / 2`` RGB, a colour map.
COLOR_MODES = ('labels', 'gray', 'normals', 'depth')
#: Rules that put invalid pixels into their canonical form (``AddIgnoreRegions``).
INVALID_RULES = ('none', 'zero_vector', 'nonpositive', 'background_only')


@dataclass(frozen=True)
class TaskSpec:
    """Everything sakbox needs to know about one dense task.

    Args:
        name: Task name; data samples hold ``gt_<name>`` / ``pred_<name>``.
        gt_kind: ``'label'``: the map holds class indices, packed as int64,
            ``ignore_value`` = ignore; ``'float'``: real values, packed as float32.
        postprocess: Maps logits (B, K, H, W) to predictions (B, C, H, W) in the
            format of ``pred_<name>``.
        primary_metric: Name of the metric the task is ranked by (the part after
            ``<name>/``), also Delta_m's default.
        channels: Channels of the ground truth: 1 for (H, W) maps, C for
            (H, W, C) maps in the pipeline, (C, H, W) in the data sample.
        pad_value: Value of padded / missing ground truth (pipeline padding,
            ``stack_task_gt``). Default: ``IGNORE_INDEX`` for label tasks, 0 otherwise.
        ignore_value: Label that marks ignored pixels (label tasks; None otherwise).
            Default: ``IGNORE_INDEX`` for label tasks.
        divide_by_zoom: Resizing divides the values by the zoom factor (depth:
            zooming in by ``s`` brings the scene ``s`` times closer). Maps are
            always resized with centre-aligned nearest neighbour.
        flip_negates: Flips negate the vector component along the flip axis
            (normals: a horizontal flip negates x, a vertical one y).
        invalid_rule: How ``AddIgnoreRegions`` canonicalises invalid pixels
            (one of :data:`INVALID_RULES`): ``'zero_vector'`` (non-finite or
            zero-length vectors become 0), ``'nonpositive'`` (``<= 0`` or
            non-finite becomes 0), ``'background_only'`` (a map with only
            background 0 and ignore becomes all ignore), ``'none'``.
        lower_is_better: Metric names of this task for which lower is better
            (the primary metric's direction is read from it).
        color: Visualiser colour mode (one of :data:`COLOR_MODES`).
        palette_key: ``dataset_meta`` key of the palette of a ``'labels'`` task
            (default ``'<name>_palette'``).
        metric: Default metric config, e.g. ``dict(type='SegMetric', task='semseg')``;
            None: ``MultiTaskMetric`` needs one in ``task_metric_cfgs``.
        report_rank: Position of the task in metric reports (``PRIMARY_METRICS``,
            the comparison tables); None: after the ranked tasks, in registration order.

    Raises:
        ValueError: If a value is outside its allowed set.
    """

    name: str
    gt_kind: str
    postprocess: Callable[[Tensor], Tensor]
    primary_metric: str
    channels: int = 1
    pad_value: Optional[float] = None
    ignore_value: Optional[int] = None
    divide_by_zoom: bool = False
    flip_negates: bool = False
    invalid_rule: str = 'none'
    lower_is_better: FrozenSet[str] = frozenset()
    color: str = 'labels'
    palette_key: Optional[str] = None
    metric: Optional[Mapping] = field(default=None, hash=False)
    report_rank: Optional[int] = None

    def __post_init__(self) -> None:
        for attr, allowed in (('gt_kind', GT_KINDS), ('color', COLOR_MODES),
                              ('invalid_rule', INVALID_RULES)):
            if getattr(self, attr) not in allowed:
                raise ValueError(f'TaskSpec {self.name!r}: {attr} must be one of {allowed}, '
                                 f'got {getattr(self, attr)!r}')
        if not self.name or '/' in self.name:
            raise ValueError(f'TaskSpec name must be non-empty and without "/", got {self.name!r}')
        if int(self.channels) < 1:
            raise ValueError(f'TaskSpec {self.name!r}: channels must be >= 1, got {self.channels}')
        is_label = self.gt_kind == 'label'
        defaults = dict(pad_value=IGNORE_INDEX if is_label else 0,
                        ignore_value=IGNORE_INDEX if is_label else None,
                        palette_key=f'{self.name}_palette')
        for attr, value in defaults.items():
            if getattr(self, attr) is None:
                object.__setattr__(self, attr, value)
        object.__setattr__(self, 'lower_is_better', frozenset(self.lower_is_better))
        if self.metric is not None:
            object.__setattr__(self, 'metric', dict(self.metric))

    @property
    def is_label(self) -> bool:
        """Whether the ground truth holds class indices."""
        return self.gt_kind == 'label'

    @property
    def primary_lower_is_better(self) -> bool:
        """Whether lower values of :attr:`primary_metric` are better."""
        return self.primary_metric in self.lower_is_better

    @property
    def primary_key(self) -> str:
        """Full key of the primary metric, ``'<name>/<primary_metric>'``."""
        return f'{self.name}/{self.primary_metric}'

    def metric_cfg(self) -> Optional[dict]:
        """A deep copy of the default metric config (None if the task has none)."""
        return copy.deepcopy(self.metric)


_TASKS: Dict[str, TaskSpec] = {}


def register_task(spec: TaskSpec, force: bool = False) -> TaskSpec:
    """Add a task; tasks keep their registration order (the canonical order).

    Args:
        spec: The task's spec.
        force: Replace an existing spec of the same name (keeping its place).

    Returns:
        TaskSpec: ``spec``.

    Raises:
        TypeError: If ``spec`` is not a :class:`TaskSpec`.
        KeyError: If the name is taken and ``force`` is False.
    """
    if not isinstance(spec, TaskSpec):
        raise TypeError(f'register_task needs a TaskSpec, got {type(spec).__name__}')
    if spec.name in _TASKS and not force:
        raise KeyError(f'task {spec.name!r} is already registered; pass force=True to '
                       'replace it')
    _TASKS[spec.name] = spec
    return spec


def unregister_task(name: str) -> TaskSpec:
    """Remove a task and return its spec (tests register toy tasks temporarily).

    Raises:
        KeyError: If no task of that name is registered.
    """
    get_task(name)
    return _TASKS.pop(name)


def get_task(name: str) -> TaskSpec:
    """Return the spec of task ``name``.

    Raises:
        KeyError: Naming the task and listing the registered ones.
    """
    try:
        return _TASKS[name]
    except (KeyError, TypeError):
        raise KeyError(f'unknown task {name!r}; registered tasks: {list(_TASKS)} '
                       '(add one with sakbox.structures.register_task)') from None


def find_task(name: str) -> Optional[TaskSpec]:
    """The spec of task ``name``, or None when it is not registered."""
    return _TASKS.get(name) if isinstance(name, str) else None


def task_names() -> Tuple[str, ...]:
    """Registered task names in canonical (registration) order."""
    return tuple(_TASKS)


V = TypeVar('V')


class TaskTable(Mapping):
    """A read-only ``{task: value}`` view over the registry (always current).

    Args:
        value: Reads the value from a spec.
        where: Only tasks whose spec passes it are in the table (default: all).
        report_order: Iterate in ``TaskSpec.report_rank`` order instead of the
            canonical order.
    """

    def __init__(self, value: Callable[[TaskSpec], V],
                 where: Optional[Callable[[TaskSpec], bool]] = None,
                 report_order: bool = False) -> None:
        self._value = value
        self._where = where or (lambda spec: True)
        self._report_order = report_order

    def _specs(self) -> Iterator[TaskSpec]:
        specs = [s for s in _TASKS.values() if self._where(s)]
        if self._report_order:  # sorted() is stable: unranked tasks keep registration order
            specs = sorted(specs, key=lambda s: (s.report_rank is None, s.report_rank or 0))
        return iter(specs)

    def __getitem__(self, task: str) -> V:
        spec = find_task(task)
        if spec is None or not self._where(spec):
            raise KeyError(task)
        return self._value(spec)

    def __iter__(self) -> Iterator[str]:
        return iter([s.name for s in self._specs()])

    def __len__(self) -> int:
        return sum(1 for _ in self._specs())

    def __repr__(self) -> str:
        return f'{type(self).__name__}({dict(self)})'
