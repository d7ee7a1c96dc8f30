"""Procedural materials of the synthetic scenes.

A class's look (base colours, pattern and pattern scale) is fixed, so the
class is learnable from the image; each instance jitters its colours a little
so that the networks cannot key on one exact RGB value. No label value is
ever written into pixels: colours come only from the tables below.
"""
from typing import Dict, Tuple

import numpy as np

RGB = Tuple[float, float, float]


#: Fixed table of lattice values; indexing it with hashed lattice coordinates is much
#: cheaper than evaluating a trigonometric hash per lattice point.
_LATTICE = np.random.default_rng(20240229).random(1 << 14)


def _lattice(ix: np.ndarray, iy: np.ndarray, iz: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic pseudo-random value in [0, 1) per integer lattice point."""
    h = (ix * 73856093) ^ (iy * 19349663) ^ (iz * 83492791) ^ seed
    return _LATTICE[h & ((1 << 14) - 1)]


def value_noise(p: np.ndarray, scale: float, seed: float = 0.0) -> np.ndarray:
    """Smooth 3D value noise in [0, 1).

    Args:
        p: (N, 3) points in metres.
        scale: Feature size in metres.
        seed: Any float; different seeds give different noise.

    Returns:
        np.ndarray: (N,) noise values.
    """
    q = p / scale
    i = np.floor(q)
    f = q - i
    f = f * f * (3.0 - 2.0 * f)  # smoothstep keeps the noise free of lattice creases
    i = i.astype(np.int64)
    seed_int = int(seed * 1000003) & 0x7FFFFFFF
    out = np.zeros(len(p))
    for dx in (0, 1):
        wx = f[:, 0] if dx else 1 - f[:, 0]
        for dy in (0, 1):
            wxy = wx * (f[:, 1] if dy else 1 - f[:, 1])
            for dz in (0, 1):
                w = wxy * (f[:, 2] if dz else 1 - f[:, 2])
                out += w * _lattice(i[:, 0] + dx, i[:, 1] + dy, i[:, 2] + dz, seed_int)
    return out


#: Look of every scene class: (colour A, colour B, pattern, pattern scale in metres).
#: Patterns: ``plain`` (A with soft noise), ``checker`` (A/B tiles on the horizontal
#: plane), ``hstripes``/``vstripes`` (grain across height / across the horizontal
#: plane), ``spots`` (B blobs on A), ``grid`` (B frame lines on A).
MATERIALS: Dict[str, Tuple[RGB, RGB, str, float]] = {
    'wall': ((0.85, 0.80, 0.70), (0.80, 0.76, 0.68), 'plain', 0.8),
    'floor': ((0.55, 0.38, 0.22), (0.42, 0.28, 0.15), 'checker', 0.5),
    'ceiling': ((0.93, 0.93, 0.92), (0.90, 0.90, 0.90), 'plain', 1.0),
    'cabinet': ((0.40, 0.24, 0.12), (0.28, 0.16, 0.08), 'vstripes', 0.06),
    'table': ((0.78, 0.62, 0.40), (0.66, 0.50, 0.30), 'hstripes', 0.04),
    'sofa': ((0.62, 0.12, 0.14), (0.50, 0.08, 0.10), 'plain', 0.05),
    'chair': ((0.15, 0.35, 0.55), (0.10, 0.25, 0.42), 'hstripes', 0.08),
    'box': ((0.72, 0.56, 0.34), (0.92, 0.88, 0.70), 'hstripes', 0.25),
    'lamp': ((0.95, 0.85, 0.35), (0.75, 0.70, 0.60), 'plain', 0.3),
    'sphere_prop': ((0.20, 0.65, 0.30), (0.95, 0.95, 0.95), 'spots', 0.05),
    'picture': ((0.20, 0.30, 0.75), (0.95, 0.70, 0.10), 'vstripes', 0.05),
    'window': ((0.70, 0.85, 0.98), (0.95, 0.95, 0.95), 'grid', 0.3),
    'tvmonitor': ((0.05, 0.05, 0.08), (0.35, 0.35, 0.38), 'plain', 0.5),
    'bottle': ((0.10, 0.50, 0.20), (0.30, 0.75, 0.40), 'hstripes', 0.03),
    'pot': ((0.70, 0.35, 0.20), (0.60, 0.30, 0.15), 'plain', 0.1),
    'foliage': ((0.15, 0.50, 0.12), (0.30, 0.65, 0.20), 'spots', 0.04),
    'skin': ((0.88, 0.66, 0.52), (0.80, 0.58, 0.45), 'plain', 0.2),
    'hair': ((0.20, 0.13, 0.08), (0.12, 0.08, 0.05), 'plain', 0.02),
    'trousers': ((0.12, 0.16, 0.35), (0.08, 0.10, 0.25), 'plain', 0.1),
}

#: Shirt colours of the synthetic people (one is drawn per person).
SHIRTS = ((0.85, 0.20, 0.15), (0.95, 0.95, 0.95), (0.20, 0.55, 0.25), (0.95, 0.75, 0.15))


def jitter_colour(rgb, rng: np.random.Generator, amount: float = 0.06) -> np.ndarray:
    """Scale a colour by a per-instance factor and add a small tint."""
    rgb = np.asarray(rgb, dtype=np.float64)
    gain = rng.uniform(1 - amount, 1 + amount)
    return np.clip(rgb * gain + rng.uniform(-amount / 2, amount / 2, 3), 0, 1)


def shade_material(material: dict, p: np.ndarray) -> np.ndarray:
    """Albedo of a material at world points.

    Args:
        material: ``dict(a=(3,), b=(3,), pattern=str, scale=float, seed=float)``.
        p: (N, 3) world points.

    Returns:
        np.ndarray: (N, 3) RGB albedo in [0, 1].
    """
    a, b = np.asarray(material['a']), np.asarray(material['b'])
    pattern, scale, seed = material['pattern'], material['scale'], material['seed']
    noise = value_noise(p, scale * 0.7 + 0.02, seed)
    if pattern == 'checker':
        k = (np.floor(p[:, 0] / scale) + np.floor(p[:, 2] / scale)) % 2
    elif pattern == 'hstripes':
        k = 0.5 + 0.5 * np.sin(2 * np.pi * p[:, 1] / scale + 2.0 * noise)
    elif pattern == 'vstripes':
        k = 0.5 + 0.5 * np.sin(2 * np.pi * (p[:, 0] + p[:, 2]) / scale + 2.0 * noise)
    elif pattern == 'spots':
        k = (value_noise(p, scale, seed + 7.0) > 0.62).astype(np.float64)
    elif pattern == 'grid':
        g = np.abs(((p + 10.0 * scale) / scale) % 1.0 - 0.5)
        k = (g.max(axis=1) > 0.45).astype(np.float64)
    else:  # plain
        k = noise
    k = k[:, None]
    albedo = a * (1 - k) + b * k
    # Fine grain keeps flat regions from being perfectly uniform, like real surfaces.
    return np.clip(albedo * (0.92 + 0.16 * noise[:, None]), 0, 1)


def make_material(name: str, rng: np.random.Generator, colour_a=None) -> dict:
    """Instantiate the material of class look ``name`` with per-instance jitter.

    Args:
        name: Key of :data:`MATERIALS`.
        rng: Random generator.
        colour_a: Optional override of colour A (e.g. a shirt colour).

    Returns:
        dict: A material for :func:`shade_material`.
    """
    a, b, pattern, scale = MATERIALS[name]
    return dict(a=jitter_colour(colour_a if colour_a is not None else a, rng),
                b=jitter_colour(b, rng), pattern=pattern,
                scale=scale * rng.uniform(0.85, 1.15), seed=float(rng.uniform(0, 100)))
