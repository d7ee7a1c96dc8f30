"""PHI-S statistics of a RADIO distiller's teachers, estimated over a dataloader."""
from typing import Dict, Iterable

import torch
from torch import nn

from .phi_s import PhiSStatsAccumulator


@torch.no_grad()
def teacher_phi_s_stats(model: nn.Module, dataloader: Iterable, num_batches: int,
                        max_tokens: int = 0, seed: int = 0) -> Dict[str, Dict[str, dict]]:
    """Accumulate raw teacher targets and return the PHI-S statistics per teacher.

    Args:
        model (nn.Module): A ``RADIODistiller`` built with its teachers and
            ``phi_s=None`` (raw targets); uses its data preprocessor,
            ``teacher_names`` and ``teacher_targets(name, inputs)``.
        dataloader (Iterable): Yields MMEngine batches.
        num_batches (int): Batches to read.
        max_tokens (int): Random feature tokens kept per batch and teacher
            (0: all); summaries are always kept whole.
        seed (int): Seed of the token sampling.

    Returns:
        dict: ``{teacher: {'features': stats, 'summary': stats}}`` with the
        :meth:`PhiSStatsAccumulator.compute` entries (``mean``, ``tx``,
        ``scale``, ``count``) for every target the teacher has.

    Raises:
        RuntimeError: The dataloader yielded no batch.
    """
    gen = torch.Generator().manual_seed(seed)
    accs = {}
    for i, batch in enumerate(dataloader):
        if i >= num_batches:
            break
        inputs = model.data_preprocessor(batch, False)['inputs']
        for name in model.teacher_names:
            tgt = model.teacher_targets(name, inputs)
            for kind, value in tgt.items():
                rows = value.flatten(2).transpose(1, 2).reshape(-1, value.shape[1]) \
                    if value.ndim == 4 else value
                if max_tokens and kind == 'features' and rows.shape[0] > max_tokens:
                    rows = rows[torch.randperm(rows.shape[0], generator=gen)[:max_tokens]]
                key = (name, kind)
                accs.setdefault(key, PhiSStatsAccumulator(rows.shape[1])).update(rows)
    if not accs:
        raise RuntimeError('compute_phi_s_stats: the dataloader yielded no batch')
    stats = {}
    for (name, kind), acc in accs.items():
        stats.setdefault(name, {})[kind] = acc.compute()
    return stats
