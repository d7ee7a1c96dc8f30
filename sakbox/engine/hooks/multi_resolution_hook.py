"""Draw the training resolution per batch (multi-resolution distillation)."""
import random
from typing import Optional, Sequence, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from sakbox.registry import HOOKS
from sakbox.utils.sizes import Size, to_hw


@HOOKS.register_module()
class MultiResolutionHook(Hook):
    """Pick a training resolution from a set and hand it to the model.

    AM-RADIO trains the student at several resolutions so that it works at any
    of them. Before each group of ``interval`` iterations one size is drawn
    (with ``probs``) from a generator seeded with ``seed + iteration``: every
    rank draws the same size without communication, and resuming reproduces
    the sequence. The model must have ``set_train_resolution(size)`` (e.g.
    :class:`~sakbox.models.distillers.RADIODistiller`, which resizes the
    normalised batch before the student and the teachers see it).

    Args:
        resolutions (sequence): Sizes, each an int or ``(h, w)``.
        probs (sequence[float], optional): Draw probabilities (default uniform).
        interval (int): Keep one size for this many iterations (e.g. the
            gradient accumulation steps).
        seed (int): Base seed of the draws.
    """

    priority = 'NORMAL'

    def __init__(self, resolutions: Sequence[Size], probs: Optional[Sequence[float]] = None,
                 interval: int = 1, seed: int = 0) -> None:
        if not resolutions:
            raise ValueError('MultiResolutionHook: resolutions must not be empty')
        if probs is not None and (len(probs) != len(resolutions) or min(probs) < 0
                                  or sum(probs) <= 0):
            raise ValueError(f'MultiResolutionHook: probs {list(probs)} must be non-negative, '
                             f'not all zero, one per resolution ({len(resolutions)})')
        if interval < 1:
            raise ValueError(f'MultiResolutionHook: interval must be >= 1, got {interval}')
        self.resolutions = [to_hw(r, 'resolutions') for r in resolutions]
        self.probs = list(probs) if probs is not None else None
        self.interval = interval
        self.seed = seed

    def resolution_at(self, iteration: int) -> Tuple[int, int]:
        """The size used at a (0-based) training iteration."""
        rng = random.Random(self.seed + iteration // self.interval)
        return rng.choices(self.resolutions, weights=self.probs, k=1)[0]

    @staticmethod
    def _model(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'set_train_resolution'):
            raise AttributeError(f'MultiResolutionHook: the model {type(model).__name__} has no '
                                 '`set_train_resolution(size)` method')
        return model

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Set the size of this iteration's batch."""
        size = self.resolution_at(runner.iter)
        self._model(runner).set_train_resolution(size)
        runner.message_hub.update_info('train_resolution', size)

    def after_train(self, runner) -> None:
        """Leave the model at its own input size."""
        self._model(runner).set_train_resolution(None)
