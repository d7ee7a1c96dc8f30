"""Keep MMEngine checkpoints loadable with ``torch.load(weights_only=True)``."""
from typing import Any, Dict

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer

from sakbox.registry import HOOKS

_BUFFER_TAG = '__sakbox_history_buffer__'


def to_weights_only(obj: Any) -> Any:
    """Recursively replace objects that ``weights_only`` loading refuses.

    ``HistoryBuffer`` becomes a tagged dict of tensors, numpy arrays become
    tensors and numpy scalars Python numbers. Tensors, containers and Python
    scalars are kept.

    Args:
        obj: Any object of a checkpoint.

    Returns:
        The object made only of types ``torch.load(weights_only=True)`` accepts.
    """
    if isinstance(obj, HistoryBuffer):
        return {
            _BUFFER_TAG: True,
            'max_length': int(obj.max_length),
            'log': torch.from_numpy(np.asarray(obj._log_history, dtype=np.float64)),
            'count': torch.from_numpy(np.asarray(obj._count_history, dtype=np.float64)),
        }
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return type(obj)((k, to_weights_only(v)) for k, v in obj.items()) \
            if type(obj) is not dict else {k: to_weights_only(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_weights_only(v) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, '_fields'):
        return tuple(to_weights_only(v) for v in obj)
    return obj


def from_weights_only(obj: Any) -> Any:
    """Invert :func:`to_weights_only` for the tagged ``HistoryBuffer`` dicts."""
    if isinstance(obj, dict):
        if obj.get(_BUFFER_TAG):
            return HistoryBuffer(
                log_history=obj['log'].numpy(),
                count_history=obj['count'].numpy(),
                max_length=obj['max_length'])
        return {k: from_weights_only(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_weights_only(v) for v in obj]
    return obj


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Make saved checkpoints loadable with ``weights_only=True``.

    torch >= 2.6 loads with ``weights_only=True`` by default, and MMEngine's
    checkpoints hold ``HistoryBuffer`` objects and numpy values in the
    message hub, so resuming fails. Rather than allow-listing those classes
    (``numpy`` needs ``builtins.getattr``, which weakens the safe loader),
    this hook stores them as tensors and Python numbers when saving and
    rebuilds them after loading.
    """

    priority = 'VERY_LOW'  # run after every hook that adds to the checkpoint

    def before_save_checkpoint(self, runner, checkpoint: Dict[str, Any]) -> None:
        """Convert the checkpoint in place before it is written."""
        for key in list(checkpoint):
            if key != 'state_dict':
                checkpoint[key] = to_weights_only(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: Dict[str, Any]) -> None:
        """Rebuild ``HistoryBuffer`` objects of the message hub."""
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = from_weights_only(checkpoint['message_hub'])
