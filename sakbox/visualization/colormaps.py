"""Colour maps that turn every task's map into an RGB uint8 image.

All functions are pure numpy (+ cv2 for text) and return ``(H, W, 3)`` uint8
**RGB** images, the order MMEngine's visualiser and its backends expect.
Conventions follow ``docs/architecture.md``: label maps use 255 = ignore
(drawn black), depth ``<= 0`` is invalid (black), a zero normal vector is
invalid (black).
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from ..structures.palette import voc_palette
from ..structures.tasks import IGNORE_INDEX

#: Grey level of ignored pixels in binary maps (edge / saliency GT), where black means 0.
BINARY_IGNORE_GREY = 128


def default_palette(num_classes: int) -> np.ndarray:
    """A fixed, deterministic palette (PASCAL VOC bit-interleaved map without black).

    Colour ``k`` is the VOC colour of index ``k + 1``, so no class is black and
    black stays reserved for ignored pixels.

    Args:
        num_classes: Number of colours.

    Returns:
        np.ndarray: (num_classes, 3) uint8 RGB.
    """
    return np.asarray(voc_palette(num_classes + 1)[1:], dtype=np.uint8).reshape(-1, 3)


def as_palette(palette: Optional[Sequence[Sequence[int]]], num_classes: int) -> np.ndarray:
    """Turn a dataset palette into an array with at least ``num_classes`` colours.

    Missing colours (no palette, or labels beyond its length) come from
    :func:`default_palette`, so every label has a colour.

    Args:
        palette: ``[[R, G, B], ...]`` from ``dataset_meta['palette']`` or None.
        num_classes: Colours needed.

    Returns:
        np.ndarray: (max(len(palette), num_classes), 3) uint8 RGB.

    Raises:
        ValueError: If ``palette`` is not a list of RGB triples.
    """
    fallback = default_palette(max(num_classes, 0))
    if palette is None or len(palette) == 0:
        return fallback
    arr = np.asarray(palette)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f'palette must be a list of [R, G, B] triples, got shape {arr.shape}')
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    if len(arr) < num_classes:
        arr = np.concatenate([arr, fallback[len(arr):num_classes]], axis=0)
    return arr


def colorize_labels(labels: np.ndarray, palette: Optional[Sequence[Sequence[int]]] = None,
                    ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Colour a label map with a palette; ``ignore_index`` pixels are black.

    Args:
        labels: (H, W) or (1, H, W) integer labels.
        palette: RGB palette (see :func:`as_palette`); None uses :func:`default_palette`.
        ignore_index: Label drawn black.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.

    Raises:
        ValueError: If ``labels`` is not 2-D (after squeezing a leading 1) or is negative.
    """
    labels = _squeeze_hw(labels, 'labels').astype(np.int64)
    valid = labels != ignore_index
    if valid.any() and labels[valid].min() < 0:
        raise ValueError(f'labels must be >= 0 (or {ignore_index}), got {labels[valid].min()}')
    num = int(labels[valid].max()) + 1 if valid.any() else 0
    colours = as_palette(palette, num)
    out = np.zeros(labels.shape + (3, ), dtype=np.uint8)
    out[valid] = colours[labels[valid]]
    return out


def depth_lut(cmap: str = 'viridis') -> np.ndarray:
    """The 256-entry RGB look-up table of a matplotlib colour map (no pyplot, no GUI).

    Args:
        cmap: Matplotlib colour-map name, e.g. ``'viridis'``, ``'magma'``.

    Returns:
        np.ndarray: (256, 3) uint8 RGB, index 0 = near, 255 = far.

    Raises:
        KeyError: If matplotlib has no colour map of that name.
    """
    from matplotlib import colormaps  # lazy: only needed when drawing
    if cmap not in colormaps:
        raise KeyError(f'unknown depth colour map {cmap!r}; e.g. viridis, magma, plasma, turbo')
    rgba = colormaps[cmap](np.linspace(0.0, 1.0, 256))
    return np.round(rgba[:, :3] * 255).astype(np.uint8)


def depth_range(*depths: Optional[np.ndarray]) -> Tuple[float, float]:
    """Min / max of the valid (``> 0``, finite) values of the first map that has any.

    Args:
        *depths: Depth maps in metres (any shape) or None; the first one with
            valid pixels decides (pass the GT first so GT and prediction share a scale).

    Returns:
        tuple: ``(vmin, vmax)`` in metres; ``(0.0, 1.0)`` when nothing is valid.
    """
    for d in depths:
        if d is None:
            continue
        d = np.asarray(d, dtype=np.float64)
        valid = np.isfinite(d) & (d > 0)
        if valid.any():
            return float(d[valid].min()), float(d[valid].max())
    return 0.0, 1.0


def colorize_depth(depth: np.ndarray, vmin: Optional[float] = None,
                   vmax: Optional[float] = None, cmap: str = 'viridis') -> np.ndarray:
    """Colour a depth map; invalid pixels (``<= 0`` or not finite) are black.

    Values are clipped to ``[vmin, vmax]`` and mapped linearly, near → LUT
    start, far → LUT end.

    Args:
        depth: (H, W) or (1, H, W) depth in metres.
        vmin: Near end of the scale (default: min of the valid values).
        vmax: Far end of the scale (default: max of the valid values).
        cmap: Matplotlib colour-map name.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    depth = _squeeze_hw(depth, 'depth').astype(np.float64)
    lo, hi = depth_range(depth)
    vmin = lo if vmin is None else float(vmin)
    vmax = hi if vmax is None else float(vmax)
    valid = np.isfinite(depth) & (depth > 0)
    scaled = (np.clip(np.where(valid, depth, vmin), vmin, vmax) - vmin) / max(vmax - vmin, 1e-12)
    idx = np.round(scaled * 255).astype(np.int64)
    out = depth_lut(cmap)[idx]
    out[~valid] = 0
    return out


def format_depth_range(vmin: float, vmax: float) -> Tuple[str, str]:
    """The legend texts of a depth range, e.g. ``('0.50 m', '3.20 m')``."""
    return f'{vmin:.2f} m', f'{vmax:.2f} m'


def depth_legend(width: int, vmin: float, vmax: float, cmap: str = 'viridis',
                 height: Optional[int] = None) -> np.ndarray:
    """A legend strip: the colour bar with the min / max depth written on it.

    Args:
        width: Strip width in pixels (the tile width).
        vmin: Depth at the left end, metres.
        vmax: Depth at the right end, metres.
        cmap: Matplotlib colour-map name.
        height: Strip height (default :func:`legend_height` of ``width``).

    Returns:
        np.ndarray: (height, width, 3) uint8 RGB.
    """
    height = legend_height(width) if height is None else height
    lut = depth_lut(cmap)
    cols = np.round(np.linspace(0, 255, max(width, 1))).astype(np.int64)
    strip = np.repeat(lut[cols][None], height, axis=0).copy()
    scale, thick = text_style(height)
    font = cv2.FONT_HERSHEY_SIMPLEX
    labels = format_depth_range(vmin, vmax)
    # Narrow tiles: shrink the text, then fall back to one compact label, so the
    # two numbers never overwrite each other.
    while True:
        sizes = [cv2.getTextSize(t, font, scale, thick)[0] for t in labels]
        if sum(w for w, _ in sizes) + 4 * len(labels) + 4 <= width or (
                scale <= 0.25 and len(labels) == 1):
            break
        if scale > 0.25:
            scale, thick = max(0.25, scale * 0.85), 1
        else:
            labels, scale, thick = (f'{vmin:.1f}-{vmax:.1f} m', ), text_style(height)[0], 1
    y = (height + max(h for _, h in sizes)) // 2
    xs = [2] if len(labels) == 1 else [2, max(width - sizes[1][0] - 2, 2)]
    for text, x, (tw, _) in zip(labels, xs, sizes):
        # White on a black box: readable over either end of any colour map; the bar
        # stays visible between the two labels.
        cv2.rectangle(strip, (x - 2, 0), (x + tw + 1, height - 1), (0, 0, 0), -1)
        cv2.putText(strip, text, (x, y), font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return strip


def legend_height(width: int) -> int:
    """Height of the depth legend strip (and of tile captions) for a tile ``width``."""
    return int(np.clip(round(width * 0.05), 14, 40))


def colorize_normals(normals: np.ndarray) -> np.ndarray:
    """Colour surface normals as ``(n + 1) / 2 * 255``; zero vectors (invalid) are black.

    Args:
        normals: (3, H, W) or (H, W, 3) normals in [-1, 1] (x, y, z → R, G, B).

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.

    Raises:
        ValueError: If neither the first nor the last axis has 3 channels.
    """
    n = np.asarray(normals, dtype=np.float64)
    if n.ndim == 3 and n.shape[0] == 3:
        # (3, H, W) is the data contract; it wins when both axes have 3 entries.
        n = n.transpose(1, 2, 0)
    if n.ndim != 3 or n.shape[-1] != 3:
        raise ValueError(f'normals must be (3, H, W) or (H, W, 3), got {tuple(n.shape)}')
    n = np.nan_to_num(n, nan=0.0)
    invalid = np.abs(n).sum(-1) < 1e-6
    out = np.round((np.clip(n, -1, 1) + 1) / 2 * 255).astype(np.uint8)
    out[invalid] = 0
    return out


def colorize_gray(values: np.ndarray, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Grey image of an edge / saliency map.

    Float maps are read as probabilities in [0, 1] (0 → black, 1 → white);
    integer maps as 0/1 labels with ``ignore_index`` drawn mid-grey (black
    already means "no edge" there).

    Args:
        values: (H, W) or (1, H, W) float in [0, 1] or integer 0/1/255.
        ignore_index: Ignore label of integer maps.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB with R = G = B.
    """
    v = _squeeze_hw(values, 'edge/saliency map')
    if np.issubdtype(v.dtype, np.floating):
        grey = np.round(np.clip(np.nan_to_num(v), 0, 1) * 255).astype(np.uint8)
    else:
        v = v.astype(np.int64)
        grey = np.where(v == ignore_index, BINARY_IGNORE_GREY,
                        np.where(v > 0, 255, 0)).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def soft_map_to_uint8(values: np.ndarray) -> np.ndarray:
    """A soft map in [0, 1] as an 8-bit image (``round(v * 255)``), e.g. for SEISM.

    Args:
        values: (H, W) or (1, H, W) float in [0, 1] (clipped).

    Returns:
        np.ndarray: (H, W) uint8.
    """
    v = _squeeze_hw(values, 'soft map').astype(np.float64)
    return np.round(np.clip(np.nan_to_num(v), 0, 1) * 255).astype(np.uint8)


def text_style(height: int) -> Tuple[float, int]:
    """Font scale and thickness that fit text into a strip ``height`` pixels tall."""
    scale = max(0.3, height / 40.0)
    return scale, 1 if height < 30 else 2


def _squeeze_hw(arr: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f'{what} must be (H, W) or (1, H, W), got shape {tuple(arr.shape)}')
    return arr
