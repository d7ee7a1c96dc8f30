"""Reseed every random number generator at each training iteration."""
import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from sakbox.registry import HOOKS


def iteration_seed(base_seed: int, iteration: int, rank: int) -> int:
    """Derive a well-mixed 32-bit seed from ``(base_seed, iteration, rank)``.

    Args:
        base_seed: The run's seed (``runner.seed``, stored in checkpoints).
        iteration: The 0-based training iteration about to run.
        rank: The process rank, so that ranks draw different noise.

    Returns:
        int: A seed in ``[0, 2**32)``.
    """
    seq = np.random.SeedSequence([int(base_seed) & 0xFFFFFFFF, int(iteration), int(rank)])
    return int(seq.generate_state(1, dtype=np.uint32)[0])


@HOOKS.register_module()
class IterationSeedHook(Hook):
    """Make each training step's randomness a function of the iteration.

    Before every training iteration, Python's, numpy's and torch's (and
    CUDA's) generators of this process are seeded from the run's seed, the
    iteration and the rank. Random ops inside the step (noisy gating,
    dropout, drop-path, main-process augmentation) then draw the same numbers
    whether the run was interrupted and resumed or not, whatever else (data
    loader start-up, validation) consumed random numbers in between. Saving
    generator states in checkpoints cannot give that, because a validation
    pass after the checkpoint also draws from them. Data-loader workers are
    seeded by MMEngine's ``worker_init_fn`` and are not touched here.
    """

    priority = 'VERY_HIGH'

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Seed the generators for iteration ``runner.iter``."""
        seed = iteration_seed(runner.seed, runner.iter, get_rank())
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)  # also seeds every CUDA device
