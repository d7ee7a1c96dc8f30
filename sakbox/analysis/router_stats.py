"""Router statistics of a trained model over a dataset: the mean weight of every expert."""
from typing import Dict, Iterable, Optional

import torch

from sakbox.engine.hooks import RouterWeightAccumulator

__all__ = ['router_stats']


def router_stats(model, dataloader: Iterable, max_samples: Optional[int] = None
                 ) -> Dict[str, torch.Tensor]:
    """Mean router weight per ``task.level`` over the batches of ``dataloader``.

    Args:
        model: A distiller that records ``last_router_weights`` (e.g. MultiTaskDistiller).
        dataloader: Batches in the model's ``test_step`` format.
        max_samples (int, optional): Stop after this many samples.

    Returns:
        Dict[str, Tensor]: ``{'<task>.level<i>': (E,)}`` means.
    """
    acc = RouterWeightAccumulator()
    seen = 0
    with torch.no_grad():
        for batch in dataloader:
            if max_samples is not None and seen >= max_samples:
                break
            model.test_step(batch)
            weights = getattr(model, 'last_router_weights', None)
            if not weights:
                raise RuntimeError(f'{type(model).__name__} recorded no router weights: '
                                   'does the model have routers?')
            take = len(next(iter(weights.values())))
            if max_samples is not None:
                take = min(take, max_samples - seen)
            acc.update({k: v[:take] for k, v in weights.items()})
            seen += take
    return acc.means()
