"""PHI-S: Hadamard-rotated standardisation of teacher features.

PHI-S (Ranzinger et al., "PHI-S: Distribution Balancing for Label-Free
Multi-Teacher Distillation", 2024) makes every teacher's features equally
"loud" before they are distilled: the features are centred, rotated into their
PCA basis, rotated again by a normalised Hadamard matrix ``H`` and divided by a
single scalar. Because every entry of ``H`` has magnitude ``1 / sqrt(C)``, the
second rotation spreads the PCA variances evenly over all channels, so after
dividing by ``sqrt(mean(eigenvalues))`` *every* channel has unit variance while
the transform stays a (scaled) rotation, i.e. it is exactly invertible and
preserves cosine structure up to the centring.

The affine map ``y = tx @ (x - mean)`` has the same form as the official RADIO
feature normaliser, so :class:`PhiSNormalizer` also holds converted
``_feature_normalizer`` buffers.
"""
import math
import warnings
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor, nn

__all__ = ['hadamard_matrix', 'compute_phi_s', 'PhiSNormalizer', 'PhiSStatsAccumulator']


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % p for p in range(2, int(math.isqrt(n)) + 1))


def _sylvester(n: int) -> Tensor:
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


def _paley1(q: int) -> Tensor:
    """Paley construction I: a Hadamard matrix of order ``q + 1``, q prime, q % 4 == 3."""
    squares = {(i * i) % q for i in range(1, q)}
    idx = torch.arange(q)
    diff = (idx[None, :] - idx[:, None]) % q
    chi = torch.tensor([0.0] + [1.0 if d in squares else -1.0 for d in range(1, q)],
                       dtype=torch.float64)
    jac = chi[diff]                                      # (q, q) Jacobsthal matrix
    s = torch.zeros(q + 1, q + 1, dtype=torch.float64)
    s[0, 1:] = 1
    s[1:, 0] = -1
    s[1:, 1:] = jac
    return torch.eye(q + 1, dtype=torch.float64) + s


def hadamard_matrix(dim: int, allow_approx: bool = True) -> Tensor:
    """Return an orthogonal (dim, dim) matrix whose entries all have magnitude 1/sqrt(dim).

    Uses Sylvester's construction times a Paley-I block, which covers every
    ``dim = 2**k * m`` with ``m`` in {1, 2} or ``m - 1`` a prime ``= 3 (mod 4)``
    (e.g. 32, 48, 384, 768, 1024, 1152, 1280, 1536). Other sizes fall back to a
    seeded random rotation (orthogonal, but the variance equalisation is then
    only approximate) with a warning.

    Args:
        dim (int): Matrix order.
        allow_approx (bool): Allow the random-rotation fallback instead of raising.

    Returns:
        Tensor: (dim, dim) float64 orthogonal matrix.
    """
    if dim < 1:
        raise ValueError(f'hadamard_matrix: dim must be positive, got {dim}')
    two_pow = 1
    while dim % (two_pow * 2) == 0:
        two_pow *= 2
    h = None
    p = two_pow
    while p >= 1 and h is None:
        m = dim // p
        if m in (1, 2):
            h = _sylvester(dim)
        elif _is_prime(m - 1) and (m - 1) % 4 == 3:
            h = torch.kron(_sylvester(p), _paley1(m - 1))
        p //= 2
    if h is None:
        if not allow_approx:
            raise ValueError(f'hadamard_matrix: no Hadamard construction for dim={dim}')
        warnings.warn(f'hadamard_matrix: no Hadamard matrix of order {dim} is known here; '
                      'using a seeded random rotation (PHI-S equalisation is approximate).')
        gen = torch.Generator().manual_seed(dim)
        q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=gen, dtype=torch.float64))
        return q
    return h / math.sqrt(dim)


def compute_phi_s(mean: Tensor, cov: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """PHI-S transform from feature statistics.

    Args:
        mean (Tensor): (C,) feature mean.
        cov (Tensor): (C, C) feature covariance.

    Returns:
        tuple: ``mean`` (C,), ``tx`` (C, C) with ``y = (x - mean) @ tx.T`` having
        unit variance per channel, and ``scale`` (scalar) = sqrt(mean eigenvalue),
        so that ``tx^-1 = scale**2 * tx.T``.
    """
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] != mean.shape[0]:
        raise ValueError(f'compute_phi_s: expected mean (C,) and cov (C, C), got '
                         f'{tuple(mean.shape)} and {tuple(cov.shape)}')
    cov = cov.double()
    evals, evecs = torch.linalg.eigh(0.5 * (cov + cov.T))
    evals = evals.clamp_min(0)
    scale = evals.mean().sqrt().clamp_min(1e-12)
    h = hadamard_matrix(cov.shape[0]).to(evecs)
    tx = (h @ evecs.T) / scale
    return mean.double(), tx, scale


class PhiSStatsAccumulator:
    """Streaming mean and covariance of (N, C) feature rows, in float64.

    Args:
        dim (int): Channel count C.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.count = 0
        self.sum = torch.zeros(dim, dtype=torch.float64)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64)

    def update(self, x: Tensor) -> None:
        """Add rows. Accepts (N, C), (B, N, C) tokens or (B, C, h, w) maps."""
        if x.ndim == 4:
            x = x.flatten(2).transpose(1, 2)
        x = x.reshape(-1, x.shape[-1]).detach().double().cpu()
        if x.shape[1] != self.dim:
            raise ValueError(f'PhiSStatsAccumulator: expected {self.dim} channels, '
                             f'got {x.shape[1]}')
        self.count += x.shape[0]
        self.sum += x.sum(0)
        self.outer += x.T @ x

    def compute(self) -> Dict[str, Tensor]:
        """Return ``dict(mean, tx, scale, count)`` (see :func:`compute_phi_s`)."""
        if self.count < 2:
            raise RuntimeError('PhiSStatsAccumulator: need at least 2 feature rows')
        mean = self.sum / self.count
        cov = (self.outer - self.count * torch.outer(mean, mean)) / (self.count - 1)
        mean, tx, scale = compute_phi_s(mean, cov)
        return dict(mean=mean.float(), tx=tx.float(), scale=scale.float(),
                    count=torch.tensor(self.count))


class PhiSNormalizer(nn.Module):
    """Apply (and invert) ``y = tx @ (x - mean)`` over the channel dimension.

    Starts as the identity; load statistics with :meth:`set_stats` or a state dict.

    Args:
        dim (int): Channel count C.
        stats (dict, optional): ``dict(mean, tx[, scale])`` as produced by
            :class:`PhiSStatsAccumulator`.
    """

    def __init__(self, dim: int, stats: Optional[Dict[str, Tensor]] = None) -> None:
        super().__init__()
        self.dim = dim
        self.register_buffer('mean', torch.zeros(dim))
        self.register_buffer('tx', torch.eye(dim))
        self.register_buffer('tx_inv', torch.eye(dim))
        if stats is not None:
            self.set_stats(stats)

    @torch.no_grad()
    def set_stats(self, stats: Dict[str, Tensor]) -> None:
        """Load ``mean`` (C,) and ``tx`` (C, C); the inverse is computed here."""
        mean, tx = stats['mean'], stats['tx']
        if tuple(mean.shape) != (self.dim, ) or tuple(tx.shape) != (self.dim, self.dim):
            raise ValueError(f'PhiSNormalizer(dim={self.dim}): stats have mean '
                             f'{tuple(mean.shape)} and tx {tuple(tx.shape)}')
        self.mean.copy_(mean)
        self.tx.copy_(tx)
        self.tx_inv.copy_(torch.linalg.inv(tx.double()).to(self.tx_inv))

    def _apply_kernel(self, x: Tensor, mat: Tensor, pre: Optional[Tensor],
                      post: Optional[Tensor]) -> Tensor:
        channels_first = x.ndim == 4  # (B, C, h, w) maps
        if channels_first:
            x = x.movedim(1, -1)
        if x.shape[-1] != self.dim:
            raise ValueError(f'PhiSNormalizer(dim={self.dim}): input has {x.shape[-1]} '
                             f'channels (shape {tuple(x.shape)})')
        if pre is not None:
            x = x - pre.to(x.dtype)
        x = x @ mat.to(x.dtype).T
        if post is not None:
            x = x + post.to(x.dtype)
        return x.movedim(-1, 1) if channels_first else x

    def forward(self, x: Tensor) -> Tensor:
        """Normalise (..., C) tokens or (B, C, h, w) maps."""
        return self._apply_kernel(x, self.tx, self.mean, None)

    def inverse(self, y: Tensor) -> Tensor:
        """Map normalised features back to the teacher's space."""
        return self._apply_kernel(y, self.tx_inv, None, self.mean)
