"""Weighted k-NN classification of frozen embeddings.

The classifier follows DINO's weighted k-NN: cosine similarities to the
``k`` nearest training embeddings, each neighbour voting for its class with
weight ``exp(similarity / T)``.
"""
import torch
import torch.nn.functional as F
from torch import Tensor


@torch.no_grad()
def knn_classify(train_feats: Tensor, train_labels: Tensor, test_feats: Tensor,
                 num_classes: int, k: int = 20, temperature: float = 0.07,
                 batch_size: int = 1024) -> Tensor:
    """Class scores of test embeddings by weighted k-NN voting.

    Args:
        train_feats (Tensor): (N, D) training embeddings (normalised here).
        train_labels (Tensor): (N,) int64 labels in [0, num_classes).
        test_feats (Tensor): (M, D) test embeddings.
        num_classes (int): Number of classes K.
        k (int): Neighbours (clipped to N).
        temperature (float): T in ``exp(sim / T)``.
        batch_size (int): Test embeddings per similarity block.

    Returns:
        Tensor: (M, K) scores (sum of neighbour weights per class).
    """
    if train_feats.ndim != 2 or test_feats.ndim != 2 or train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f'knn_classify: train {tuple(train_feats.shape)} and test '
                         f'{tuple(test_feats.shape)} must be (N, D) and (M, D)')
    if train_labels.shape != (train_feats.shape[0], ):
        raise ValueError(f'knn_classify: train_labels {tuple(train_labels.shape)} must be '
                         f'({train_feats.shape[0]},)')
    train = F.normalize(train_feats.float(), dim=1)
    labels = train_labels.long().to(train.device)
    k = min(k, train.shape[0])
    scores = []
    for chunk in F.normalize(test_feats.float(), dim=1).split(batch_size):
        sims, idx = (chunk.to(train.device) @ train.T).topk(k, dim=1)
        weights = (sims / temperature).exp()
        votes = torch.zeros(chunk.shape[0], num_classes, device=train.device)
        votes.scatter_add_(1, labels[idx], weights)
        scores.append(votes)
    return torch.cat(scores)
