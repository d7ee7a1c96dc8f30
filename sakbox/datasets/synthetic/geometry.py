"""Camera model and vectorised ray casting of simple primitives.

Conventions (used throughout the synthetic generator and its tests):

* Camera and world frames are both right-handed with **x right, y down,
  z forward** (the OpenCV convention). The camera sits at the world origin;
  ``R`` maps camera directions to world directions.
* A ray for pixel (row ``v``, column ``u``) has direction
  ``((u - cx) / fx, (v - cy) / fy, 1)`` in the camera frame, so the ray
  parameter ``t`` of a hit *is* its metric z-depth (NYU depth is z-depth).
* Every primitive returns, per ray, the nearest positive hit ``t`` (``inf``
  where it misses) and the unit outward normal at the hit, in world frame.
"""
from typing import Tuple

import numpy as np

#: NYU-v2 Kinect colour intrinsics (fx, fy, cx, cy) at 480x640.
NYU_INTRINSICS = (518.8579, 519.4696, 325.5824, 253.7362)
NYU_SIZE = (480, 640)

_EPS = 1e-6


def rowmat(v: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``v @ m`` for (N, 3) rows and a (3, K) matrix, without BLAS.

    BLAS matmuls with an inner size of 3 are slow (threading overhead), and
    much slower still on a busy machine; three broadcast products are not.
    """
    return v[:, 0:1] * m[0] + v[:, 1:2] * m[1] + v[:, 2:3] * m[2]


def camera_intrinsics(height: int, width: int) -> np.ndarray:
    """NYU-like pinhole intrinsics scaled to an image of ``height`` x ``width``.

    Args:
        height: Image height in pixels.
        width: Image width in pixels.

    Returns:
        np.ndarray: (3, 3) float64 matrix ``K``.
    """
    fx, fy, cx, cy = NYU_INTRINSICS
    sy, sx = height / NYU_SIZE[0], width / NYU_SIZE[1]
    return np.array([[fx * sx, 0.0, cx * sx], [0.0, fy * sy, cy * sy], [0.0, 0.0, 1.0]])


def camera_rays(K: np.ndarray, height: int, width: int) -> np.ndarray:
    """Camera-frame ray directions with unit z for every pixel.

    Args:
        K: (3, 3) intrinsics.
        height: Image height.
        width: Image width.

    Returns:
        np.ndarray: (H * W, 3) directions, row-major over (H, W).
    """
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    x = (u - K[0, 2]) / K[0, 0]
    y = (v - K[1, 2]) / K[1, 1]
    return np.stack([x.ravel(), y.ravel(), np.ones(height * width)], axis=1)


def backproject(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Back-project a z-depth map to camera-frame 3D points.

    Args:
        depth: (H, W) metric z-depth.
        K: (3, 3) intrinsics.

    Returns:
        np.ndarray: (H, W, 3) points.
    """
    h, w = depth.shape
    rays = camera_rays(K, h, w).reshape(h, w, 3)
    return rays * depth[..., None]


def rotation_yaw_pitch(yaw: float, pitch: float) -> np.ndarray:
    """Camera-to-world rotation: pitch about x (positive looks down), then yaw about y.

    Args:
        yaw: Rotation about the vertical axis, radians.
        pitch: Downward tilt, radians.

    Returns:
        np.ndarray: (3, 3) rotation matrix.
    """
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    # With y down, looking down means the forward axis gains +y.
    rx = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]], dtype=np.float64)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], dtype=np.float64)
    return ry @ rx


def _no_hit(n: int) -> Tuple[np.ndarray, np.ndarray]:
    return np.full(n, np.inf), np.zeros((n, 3))


class Plane:
    """Infinite plane ``{X : normal . X = offset}`` seen from the origin's side.

    Args:
        normal: Unit normal pointing towards the camera (origin) side.
        offset: Plane offset; negative when the origin is on the normal's side.
    """

    def __init__(self, normal, offset: float) -> None:
        self.normal = np.asarray(normal, dtype=np.float64)
        self.offset = float(offset)

    def corners(self) -> None:
        """Unbounded: there is no bounding box to cull rays with."""
        return None

    def intersect(self, d: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Intersect rays from the origin; see the module docstring."""
        denom = rowmat(d, self.normal[:, None])[:, 0]
        with np.errstate(divide='ignore', invalid='ignore'):
            t = self.offset / denom
        t = np.where((denom < -_EPS) & (t > _EPS), t, np.inf)
        return t, np.broadcast_to(self.normal, d.shape)


class Box:
    """Box with half sizes ``half`` (x, y, z), centred at ``center``, turned by ``yaw``.

    Args:
        center: (3,) world centre.
        half: (3,) half extents along the box's local axes.
        yaw: Rotation about the world's vertical (y) axis, radians.
    """

    def __init__(self, center, half, yaw: float = 0.0) -> None:
        self.center = np.asarray(center, dtype=np.float64)
        self.half = np.asarray(half, dtype=np.float64)
        c, s = np.cos(yaw), np.sin(yaw)
        self.rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])  # local -> world

    def corners(self) -> np.ndarray:
        """(8, 3) world corners, for culling rays that cannot hit."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        return self.center + (signs * self.half) @ self.rot.T

    def to_local(self, p: np.ndarray) -> np.ndarray:
        """World points (N, 3) to box-local coordinates (N, 3)."""
        return rowmat(p - self.center, self.rot)

    def intersect(self, d: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Slab test; see the module docstring."""
        o = self.to_local(np.zeros((1, 3)))  # (1, 3)
        dl = rowmat(d, self.rot)
        dl = np.where(np.abs(dl) < _EPS, _EPS, dl)
        t1 = (-self.half - o) / dl
        t2 = (self.half - o) / dl
        tmin, tmax = np.minimum(t1, t2), np.maximum(t1, t2)
        axis = np.argmax(tmin, axis=1)
        rows = np.arange(len(d))
        tnear = tmin[rows, axis]
        tfar = np.minimum(np.minimum(tmax[:, 0], tmax[:, 1]), tmax[:, 2])
        hit = (tnear <= tfar) & (tnear > _EPS)
        normal_l = np.zeros((len(d), 3))
        normal_l[rows, axis] = -np.sign(dl[rows, axis])
        return np.where(hit, tnear, np.inf), rowmat(normal_l, self.rot.T)


class Sphere:
    """Sphere of ``radius`` around ``center``."""

    def __init__(self, center, radius: float) -> None:
        self.center = np.asarray(center, dtype=np.float64)
        self.radius = float(radius)

    def corners(self) -> np.ndarray:
        """(8, 3) corners of the bounding cube."""
        return Box(self.center, (self.radius,) * 3).corners()

    def intersect(self, d: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Quadratic solve; see the module docstring."""
        a = (d * d).sum(1)
        b = rowmat(d, self.center[:, None])[:, 0]
        c = self.center @ self.center - self.radius**2
        disc = b * b - a * c
        with np.errstate(invalid='ignore'):
            t = (b - np.sqrt(disc)) / a
        hit = (disc >= 0) & (t > _EPS)
        t = np.where(hit, t, np.inf)
        p = d * np.where(hit, t, 0.0)[:, None]
        return t, (p - self.center) / self.radius


class Cylinder:
    """Capped cylinder with a vertical axis through (``cx``, ``cz``), spanning ``y0 < y1``.

    With y pointing down, ``y0`` is the top cap and ``y1`` the bottom cap.
    """

    def __init__(self, cx: float, cz: float, y0: float, y1: float, radius: float) -> None:
        self.cx, self.cz = float(cx), float(cz)
        self.y0, self.y1 = float(min(y0, y1)), float(max(y0, y1))
        self.radius = float(radius)

    def corners(self) -> np.ndarray:
        """(8, 3) corners of the bounding box."""
        half = (self.radius, (self.y1 - self.y0) / 2, self.radius)
        return Box((self.cx, (self.y0 + self.y1) / 2, self.cz), half).corners()

    def intersect(self, d: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Side and cap tests; see the module docstring."""
        n = len(d)
        dx, dy, dz = d[:, 0], d[:, 1], d[:, 2]
        a = dx * dx + dz * dz
        b = dx * self.cx + dz * self.cz
        c = self.cx**2 + self.cz**2 - self.radius**2
        disc = b * b - a * c
        with np.errstate(invalid='ignore', divide='ignore'):
            ts = (b - np.sqrt(disc)) / a
            ys = ts * dy
            side_ok = (disc >= 0) & (ts > _EPS) & (ys >= self.y0) & (ys <= self.y1)
            t_side = np.where(side_ok, ts, np.inf)
            caps = []
            for y, ny in ((self.y0, -1.0), (self.y1, 1.0)):
                tc = y / dy
                rx, rz = tc * dx - self.cx, tc * dz - self.cz
                ok = (tc > _EPS) & (rx * rx + rz * rz <= self.radius**2) & (dy * ny < 0)
                caps.append((np.where(ok, tc, np.inf), ny))
        t = t_side
        normal = np.zeros((n, 3))
        ps = d * np.where(side_ok, ts, 0.0)[:, None]
        normal[:, 0] = (ps[:, 0] - self.cx) / self.radius
        normal[:, 2] = (ps[:, 2] - self.cz) / self.radius
        for tc, ny in caps:
            better = tc < t
            t = np.where(better, tc, t)
            normal[better] = (0.0, ny, 0.0)
        return t, normal
