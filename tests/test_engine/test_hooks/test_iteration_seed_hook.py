"""IterationSeedHook: each iteration's randomness depends only on (seed, iter, rank)."""
import random
from types import SimpleNamespace

import numpy as np
import torch

from sakbox.engine.hooks import IterationSeedHook
from sakbox.engine.hooks.iteration_seed_hook import iteration_seed


def _draw(hook, seed, it):
    hook.before_train_iter(SimpleNamespace(seed=seed, iter=it), batch_idx=0)
    return torch.rand(3), np.random.rand(), random.random()


def test_same_iteration_same_numbers_whatever_happened_before():
    hook = IterationSeedHook()
    first = _draw(hook, 0, 5)
    torch.rand(100), np.random.rand(7)  # e.g. a validation pass in between
    again = _draw(hook, 0, 5)
    assert torch.equal(first[0], again[0]) and first[1:] == again[1:]


def test_different_iterations_seeds_and_ranks_differ():
    hook = IterationSeedHook()
    a, b, c = _draw(hook, 0, 5), _draw(hook, 0, 6), _draw(hook, 1, 5)
    assert not torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    assert iteration_seed(0, 5, 0) != iteration_seed(0, 5, 1)
