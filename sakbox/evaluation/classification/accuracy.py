"""Top-k accuracy of class scores."""
from typing import Dict, Sequence

from torch import Tensor


def topk_accuracy(scores: Tensor, labels: Tensor, topk: Sequence[int] = (1, 5)
                  ) -> Dict[str, float]:
    """Top-k accuracies in percent.

    Args:
        scores (Tensor): (M, K) class scores or logits.
        labels (Tensor): (M,) int64 true classes.
        topk (Sequence[int]): The k values (each clipped to K).

    Returns:
        Dict[str, float]: ``{'top1': ..., 'top5': ...}``.
    """
    res = {}
    for k in topk:
        kk = min(k, scores.shape[1])
        hit = (scores.topk(kk, dim=1).indices == labels[:, None].to(scores.device)).any(1)
        res[f'top{k}'] = 100.0 * hit.float().mean().item()
    return res
