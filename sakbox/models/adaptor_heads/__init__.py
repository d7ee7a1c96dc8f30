"""AM-RADIO's output side: per-teacher adaptor heads and PHI-S target standardisation.

These map the student's tokens into each teacher's space (after the
backbone), unlike SAK's in-backbone adapters in :mod:`sakbox.models.adapters`.
"""
from .phi_s import PhiSNormalizer, PhiSStatsAccumulator, compute_phi_s, hadamard_matrix
from .phi_s_stats import teacher_phi_s_stats
from .radio_adaptor import RADIOMLP, RADIOAdaptorHead

__all__ = ['RADIOAdaptorHead', 'RADIOMLP', 'PhiSNormalizer', 'PhiSStatsAccumulator',
           'compute_phi_s', 'hadamard_matrix', 'teacher_phi_s_stats']
