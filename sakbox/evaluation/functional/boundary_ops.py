"""Image operations of the SEISM boundary protocol, in numpy.

Re-implementations (from their documented behaviour) of the MATLAB pieces
the SAK edge evaluation runs before matching:

* :func:`conv_tri` -- Piotr Dollar's triangle filter ``convTri`` (symmetric
  padding);
* :func:`edge_orientation` -- the orientation estimate of ``nms_process.m``
  (``gradient2`` of ``convTri(E, 4)``, ``atan(Oyy * sign(-Oxy) / (Oxx + 1e-5))``);
* :func:`edge_nms` -- ``edgesNmsMex``: non-maximum suppression along the
  orientation with bilinear interpolation, then linear damping of the
  ``s``-pixel border;
* :func:`thin` -- ``bwmorph(bw, 'thin', Inf)`` (Guo-Hall two-subiteration
  thinning as described by Lam, Lee and Suen, 1992);
* :func:`seg2bmap` -- SEISM/BSDS ``seg2bmap``: boundary map of a label map.

Computation is in float32 like MATLAB's ``single``; results can differ from
MATLAB's only on pixels where two neighbours tie to within float rounding.
"""
from typing import Tuple

import numpy as np
from scipy import ndimage

# Neighbour offsets (row, col) of x1..x8: E, NE, N, NW, W, SW, S, SE.
_NEIGHBOURS = ((0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1))


def conv_tri(image: np.ndarray, r: float) -> np.ndarray:
    """Separable triangle-filter smoothing (``convTri``) with symmetric padding.

    Args:
        image: (H, W) image.
        r: Filter radius; ``0 < r <= 1`` uses the 3-tap ``[1 p 1] / (2 + p)``
            with ``p = 12 / r / (r + 2) - 2``, an integer ``r > 1`` the
            ``[1 .. r+1 .. 1] / (r + 1)**2`` triangle.

    Returns:
        np.ndarray: (H, W) float32 smoothed image.
    """
    image = np.asarray(image, dtype=np.float32)
    if r == 0:
        return image.copy()
    if r <= 1:
        p = 12.0 / r / (r + 2) - 2
        kernel = np.array([1.0, p, 1.0]) / (2 + p)
    else:
        r = int(r)
        kernel = np.concatenate([np.arange(1, r + 2), np.arange(r, 0, -1)]) / (r + 1) ** 2
    kernel = kernel.astype(np.float32)
    out = ndimage.correlate1d(image, kernel, axis=0, mode='reflect', output=np.float32)
    return ndimage.correlate1d(out, kernel, axis=1, mode='reflect', output=np.float32)


def gradient2(image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Numerical gradients (central inside, one-sided at the border).

    Args:
        image: (H, W) image, H and W >= 2.

    Returns:
        tuple: ``(gx, gy)``, derivatives along columns and rows, float32.
    """
    gy, gx = np.gradient(np.asarray(image, dtype=np.float32))
    return gx.astype(np.float32), gy.astype(np.float32)


def edge_orientation(edge: np.ndarray) -> np.ndarray:
    """Boundary orientation in ``[0, pi)`` from second derivatives (``nms_process.m``).

    Args:
        edge: (H, W) edge strength map (already smoothed with ``conv_tri(., 1)``).

    Returns:
        np.ndarray: (H, W) float32 orientation.
    """
    ox, oy = gradient2(conv_tri(edge, 4))
    oxx, _ = gradient2(ox)
    oxy, oyy = gradient2(oy)
    with np.errstate(divide='ignore', invalid='ignore'):
        ori = np.arctan(oyy * np.sign(-oxy) / (oxx + np.float32(1e-5)))
    return np.mod(np.nan_to_num(ori), np.float32(np.pi)).astype(np.float32)


def _interp(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear interpolation with ``edgesNmsMex``'s clamping, float32."""
    h, w = image.shape
    x = np.clip(x, np.float32(0), np.float32(w - 1.001)).astype(np.float32)
    y = np.clip(y, np.float32(0), np.float32(h - 1.001)).astype(np.float32)
    x0 = x.astype(np.int64)
    y0 = y.astype(np.int64)
    dx0 = x - x0.astype(np.float32)
    dy0 = y - y0.astype(np.float32)
    dx1 = np.float32(1) - dx0
    dy1 = np.float32(1) - dy0
    flat = image.reshape(-1)
    i00 = y0 * w + x0
    return (flat[i00] * dx1 * dy1 + flat[i00 + 1] * dx0 * dy1
            + flat[i00 + w] * dx1 * dy0 + flat[i00 + w + 1] * dx0 * dy0)


def edge_nms(edge: np.ndarray, ori: np.ndarray, r: int = 1, s: int = 5,
             m: float = 1.01) -> np.ndarray:
    """Non-maximum suppression of an edge map (``edgesNmsMex``).

    A pixel is zeroed when ``m`` times its value is below the interpolated
    value at any distance ``1..r`` along its orientation (both directions);
    then values within ``s`` pixels of the image border are scaled by their
    distance to it over ``s``.

    Args:
        edge: (H, W) edge map, H and W >= 2.
        ori: (H, W) orientation in radians.
        r: Suppression radius in pixels.
        s: Border damping width in pixels.
        m: Multiplier for conservative suppression.

    Returns:
        np.ndarray: (H, W) float32 suppressed map.
    """
    edge = np.asarray(edge, dtype=np.float32)
    h, w = edge.shape
    if h < 2 or w < 2:
        raise ValueError(f'edge_nms needs an image of at least 2x2 pixels, got {edge.shape}')
    out = edge.copy()
    ys, xs = np.nonzero(edge)
    if ys.size:
        e = edge[ys, xs] * np.float32(m)
        o = np.asarray(ori, dtype=np.float32)[ys, xs]
        cos_o, sin_o = np.cos(o), np.sin(o)
        xf, yf = xs.astype(np.float32), ys.astype(np.float32)
        suppressed = np.zeros(ys.size, dtype=bool)
        for d in range(-r, r + 1):
            if d:
                d32 = np.float32(d)
                suppressed |= e < _interp(edge, xf + d32 * cos_o, yf + d32 * sin_o)
        out[ys[suppressed], xs[suppressed]] = 0
    s = min(s, w // 2, h // 2)
    for i in range(s):
        f = np.float32(i / s)
        out[:, i] *= f
        out[:, w - 1 - i] *= f
    for i in range(s):
        f = np.float32(i / s)
        out[i, :] *= f
        out[h - 1 - i, :] *= f
    return out


def _thin_luts() -> Tuple[np.ndarray, np.ndarray]:
    """Deletion look-up tables of the two thinning subiterations (256 entries)."""
    lut1 = np.zeros(256, dtype=bool)
    lut2 = np.zeros(256, dtype=bool)
    for code in range(256):
        bit = [(code >> k) & 1 for k in range(8)]

        def x(i: int, bit=bit) -> int:  # 1-based, x9 == x1
            return bit[(i - 1) % 8]

        crossing = sum(1 for i in range(1, 5) if not x(2 * i - 1) and (x(2 * i) or x(2 * i + 1)))
        n1 = sum(1 for k in range(1, 5) if x(2 * k - 1) or x(2 * k))
        n2 = sum(1 for k in range(1, 5) if x(2 * k) or x(2 * k + 1))
        g12 = crossing == 1 and 2 <= min(n1, n2) <= 3
        lut1[code] = g12 and not ((x(2) or x(3) or not x(8)) and x(1))
        lut2[code] = g12 and not ((x(6) or x(7) or not x(4)) and x(5))
    return lut1, lut2


_LUT1, _LUT2 = _thin_luts()


def _thin_flat(flat: np.ndarray, idx: np.ndarray, width: int) -> np.ndarray:
    """Thin in place a zero-padded image given as a flat array and its set indices.

    Args:
        flat: Flat bool view of the (H + 2, W + 2) zero-bordered image.
        idx: Flat indices of its set pixels.
        width: W + 2.

    Returns:
        np.ndarray: Flat indices of the pixels left set.
    """
    offsets = np.array([dr * width + dc for dr, dc in _NEIGHBOURS], dtype=np.int64)
    weights = (1 << np.arange(8)).astype(np.int32)
    while idx.size:
        changed = False
        for lut in (_LUT1, _LUT2):
            code = flat[idx[:, None] + offsets[None, :]].astype(np.int32) @ weights
            delete = lut[code]
            if delete.any():
                flat[idx[delete]] = False
                idx = idx[~delete]
                changed = True
        if not changed:
            break
    return idx


def thin(mask: np.ndarray) -> np.ndarray:
    """Morphological thinning to 8-connected lines, ``bwmorph(mask, 'thin', Inf)``.

    Runs the two subiterations until nothing changes; only the set pixels are
    visited, so the cost scales with the number of set pixels, not the image.

    Args:
        mask: (H, W) binary image.

    Returns:
        np.ndarray: (H, W) bool thinned image.
    """
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    img = np.zeros((h + 2, w + 2), dtype=bool)
    img[1:-1, 1:-1] = mask
    flat = img.reshape(-1)
    _thin_flat(flat, np.flatnonzero(flat), w + 2)
    return img[1:-1, 1:-1].copy()


def thin_points(ys: np.ndarray, xs: np.ndarray, shape: Tuple[int, int]
                ) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`thin` for a set of pixel coordinates (no full-image scans).

    Args:
        ys: (N,) row of each set pixel (unique pixels).
        xs: (N,) column of each set pixel.
        shape: (H, W) of the image.

    Returns:
        tuple: ``(ys, xs)`` of the pixels left after thinning.
    """
    h, w = shape
    flat = np.zeros((h + 2) * (w + 2), dtype=bool)
    idx = (np.asarray(ys, dtype=np.int64) + 1) * (w + 2) + np.asarray(xs, dtype=np.int64) + 1
    flat[idx] = True
    idx = _thin_flat(flat, idx, w + 2)
    ys_out, xs_out = np.divmod(idx, w + 2)
    return ys_out - 1, xs_out - 1


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """Boundary map of a label map (SEISM/BSDS ``seg2bmap`` at full size).

    A pixel is a boundary when its label differs from its east, south or
    south-east neighbour (outside the image counts as label 0); the last row
    only compares east, the last column only south, the corner is never set.

    Args:
        seg: (H, W) label map (a binary edge map is a two-label map).

    Returns:
        np.ndarray: (H, W) bool boundary map.
    """
    seg = np.asarray(seg)
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    bmap = (seg != east) | (seg != south) | (seg != south_east)
    bmap[-1, :] = seg[-1, :] != east[-1, :]
    bmap[:, -1] = seg[:, -1] != south[:, -1]
    bmap[-1, -1] = False
    return bmap
