"""sakbox registries.

Every registry is a child of the matching MMEngine root registry, so a config
with ``default_scope='sakbox'`` finds sakbox components first and falls back
to MMEngine's (optimizers, schedulers, hooks, ...). ``locations`` makes the
registries import the defining modules lazily, on first lookup: no manual
import lists are needed and ``import sakbox`` stays light.

A ``type`` that is not registered anywhere fails with a :class:`KeyError`
that lists the closest registered names.
"""
import difflib
from typing import Any, List, Optional

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry


class SakboxRegistry(Registry):
    """A :class:`mmengine.registry.Registry` whose misses say what exists.

    MMEngine returns ``None`` for an unknown name and the builder then raises
    a bare "not in the registry" error. Here the miss raises a ``KeyError``
    listing the closest names registered in this registry and its ancestors.
    """

    def _all_names(self) -> List[str]:
        names = set(self._module_dict)
        parent = self.parent
        while parent is not None:
            names.update(parent._module_dict)
            parent = parent.parent
        return sorted(names)

    def get(self, key: str) -> Optional[Any]:  # noqa: D102
        try:
            obj = super().get(key)
        except RuntimeError:
            obj = None
        if obj is None and isinstance(key, str):
            _, real_key = self.split_scope_key(key)
            names = self._all_names()
            close = difflib.get_close_matches(real_key, names, n=5, cutoff=0.5)
            if not close:
                lowered = real_key.lower()
                close = [n for n in names if lowered in n.lower()][:5]
            hint = (f'Did you mean one of: {", ".join(close)}?'
                    if close else f'Registered names: {", ".join(names[:40])}'
                    + (' ...' if len(names) > 40 else ''))
            raise KeyError(
                f'"{key}" is not registered in the {self.scope}::{self.name} '
                f'registry (or its parents). {hint}')
        return obj


def _child(name: str, parent: Registry, locations: List[str]) -> SakboxRegistry:
    return SakboxRegistry(name, parent=parent, scope='sakbox', locations=locations)


# Runners and loops.
RUNNERS = _child('runner', MMENGINE_RUNNERS, ['sakbox.engine'])
RUNNER_CONSTRUCTORS = _child('runner constructor', MMENGINE_RUNNER_CONSTRUCTORS,
                             ['sakbox.engine'])
LOOPS = _child('loop', MMENGINE_LOOPS, ['sakbox.engine'])
HOOKS = _child('hook', MMENGINE_HOOKS, ['sakbox.engine.hooks'])
LOG_PROCESSORS = _child('log_processor', MMENGINE_LOG_PROCESSORS, ['sakbox.engine'])

# Data.
DATASETS = _child('dataset', MMENGINE_DATASETS, ['sakbox.datasets'])
DATA_SAMPLERS = _child('data sampler', MMENGINE_DATA_SAMPLERS, ['sakbox.datasets'])
TRANSFORMS = _child('transform', MMENGINE_TRANSFORMS, ['sakbox.datasets.transforms'])

# Models.
MODELS = _child('model', MMENGINE_MODELS, ['sakbox.models'])
MODEL_WRAPPERS = _child('model_wrapper', MMENGINE_MODEL_WRAPPERS, ['sakbox.models'])
WEIGHT_INITIALIZERS = _child('weight initializer', MMENGINE_WEIGHT_INITIALIZERS,
                             ['sakbox.models'])
TASK_UTILS = _child('task util', MMENGINE_TASK_UTILS, ['sakbox.models'])

# Optimisation.
OPTIMIZERS = _child('optimizer', MMENGINE_OPTIMIZERS, ['sakbox.engine'])
OPTIM_WRAPPERS = _child('optim_wrapper', MMENGINE_OPTIM_WRAPPERS, ['sakbox.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, ['sakbox.engine'])
PARAM_SCHEDULERS = _child('parameter scheduler', MMENGINE_PARAM_SCHEDULERS,
                          ['sakbox.engine'])

# Evaluation.
METRICS = _child('metric', MMENGINE_METRICS, ['sakbox.evaluation'])
EVALUATOR = _child('evaluator', MMENGINE_EVALUATOR, ['sakbox.evaluation'])

# Visualisation.
VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS, ['sakbox.visualization'])
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS, ['sakbox.visualization'])

# Misc.
FUNCTIONS = _child('function', MMENGINE_FUNCTIONS, ['sakbox.datasets'])
INFERENCERS = _child('inferencer', MMENGINE_INFERENCERS, ['sakbox.apis'])

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS', 'DATASETS',
    'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS', 'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS',
    'TASK_UTILS', 'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'METRICS', 'EVALUATOR', 'VISUALIZERS', 'VISBACKENDS', 'FUNCTIONS',
    'INFERENCERS', 'SakboxRegistry'
]
