"""Image embeddings of a labelled dataset from a RADIO model (for kNN / zero-shot)."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn


def select_embedding(out: dict, feature: str, model: nn.Module) -> Tensor:
    """Pick one embedding per image from a RADIO model's ``extract_feat`` output.

    Args:
        out (dict): ``extract_feat`` output (``summary`` (B, T, C), ``features``
            (B, C, h, w), ``adaptors``).
        feature (str): See :func:`extract_embeddings`.
        model (nn.Module): The model (``backbone_summary``, ``summary_slots``).

    Returns:
        Tensor: (B, D) embeddings.

    Raises:
        KeyError: An unknown ``feature``.
    """
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
        feats.append(select_embedding(out, feature, model).float().cpu())
        labels.extend(int(s.metainfo.get('gt_label', -1)) for s in data['data_samples'])
        if max_samples is not None and len(labels) >= max_samples:
            break
    emb = torch.cat(feats)
    lab = torch.tensor(labels, dtype=torch.long)
    if max_samples is not None:
        emb, lab = emb[:max_samples], lab[:max_samples]
    return emb, lab
