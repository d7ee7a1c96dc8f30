"""kNN classification on frozen embeddings, and embedding extraction from RADIO models.

The classifier follows DINO's weighted k-NN: cosine similarities to the
``k`` nearest training embeddings, each neighbour voting for its class with
weight ``exp(similarity / T)``.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


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


def topk_accuracy(scores: Tensor, labels: Tensor, topk: Sequence[int] = (1, 5)
                  ) -> Dict[str, float]:
    """Top-k accuracies in percent, ``{'top1': ..., 'top5': ...}`` (k clipped to K)."""
    res = {}
    for k in topk:
        kk = min(k, scores.shape[1])
        hit = (scores.topk(kk, dim=1).indices == labels[:, None].to(scores.device)).any(1)
        res[f'top{k}'] = 100.0 * hit.float().mean().item()
    return res


def image_folder_loader(data_root: str, img_size: int, batch_size: int = 32,
                        num_workers: int = 0):
    """A deterministic loader over an ImageNet-style folder (``<class>/<image>``).

    Images are resized (no crop) to ``img_size`` x ``img_size`` and packed as the
    sakbox pipelines do (``gt_label`` in the metainfo).

    Returns:
        tuple: ``(dataloader, class names)``.
    """
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from torch.utils.data import DataLoader

    from sakbox.registry import DATASETS
    with DefaultScope.overwrite_default_scope('sakbox'):
        dataset = DATASETS.build(dict(
            type='ImageFolderDataset', data_root=data_root, with_label=True,
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='MultiTaskResize', scale=(img_size, img_size), keep_ratio=False),
                      dict(type='PackMultiTaskInputs')]))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=pseudo_collate)
    return loader, list(dataset.metainfo['classes'])


def _embedding(out: dict, feature: str, model: nn.Module) -> Tensor:
    if feature == 'summary':  # the official backbone summary: teachers with use_summary
        if hasattr(model, 'backbone_summary'):
            return model.backbone_summary(out['summary'])
        return out['summary'].flatten(1)
    if feature == 'summary:all':  # every summary token, concatenated
        return out['summary'].flatten(1)
    if feature == 'features':
        return out['features'].float().mean(dim=(2, 3))
    kind, _, name = feature.partition(':')
    if kind == 'summary' and name in getattr(model, 'summary_slots', {}):
        return out['summary'][:, model.summary_slots[name]]
    if kind == 'adaptor' and name in out.get('adaptors', {}):
        return out['adaptors'][name]['summary']
    raise KeyError(f'unknown feature {feature!r}: use "summary", "summary:all", "features", '
                   f'"summary:<teacher>" or "adaptor:<teacher>" with teachers '
                   f'{sorted(out.get("adaptors", {}))}')


@torch.no_grad()
def extract_embeddings(model: nn.Module, dataloader, feature: str = 'summary',
                       max_samples: Optional[int] = None) -> Tuple[Tensor, Tensor]:
    """Embed a labelled image dataset with a RADIO model.

    Args:
        model (nn.Module): A :class:`RADIODistiller` (uses its data preprocessor and
            ``extract_feat(inputs, denormalize=True)``).
        dataloader: Yields MMEngine batches ``dict(inputs, data_samples)`` whose
            samples carry ``gt_label`` in their metainfo.
        feature (str): ``'summary'`` (the official backbone summary: the tokens of
            ``model.backbone_summary_slots`` concatenated), ``'summary:all'`` (every
            summary token), ``'summary:<teacher>'``
            (that teacher's token), ``'adaptor:<teacher>'`` (the adaptor's summary in
            the teacher's space, e.g. CLIP's image embedding) or ``'features'``
            (mean-pooled spatial features).
        max_samples (int, optional): Stop after this many images.

    Returns:
        tuple: embeddings (N, D) float32 on the CPU and labels (N,) int64 (-1 if absent).
    """
    model.eval()
    feats: List[Tensor] = []
    labels: List[int] = []
    for batch in dataloader:
        data = model.data_preprocessor(batch, False)
        out = model.extract_feat(data['inputs'], denormalize=True)
        feats.append(_embedding(out, feature, model).float().cpu())
        labels.extend(int(s.metainfo.get('gt_label', -1)) for s in data['data_samples'])
        if max_samples is not None and len(labels) >= max_samples:
            break
    emb = torch.cat(feats)
    lab = torch.tensor(labels, dtype=torch.long)
    if max_samples is not None:
        emb, lab = emb[:max_samples], lab[:max_samples]
    return emb, lab
