"""Random indoor scenes (room + furniture + people) and their ray-cast rendering.

A scene is a list of :class:`Primitive` s inside a closed room; rendering
casts one ray per pixel (see :mod:`.geometry` for the frame conventions) and
returns the image together with every ground-truth map, all derived from the
same hit, so they agree by construction.
"""
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

from .geometry import (
    Box,
    Cylinder,
    Plane,
    Sphere,
    camera_intrinsics,
    camera_rays,
    rotation_yaw_pitch,
    rowmat,
)
from .materials import MATERIALS, SHIRTS, make_material, shade_material

#: Scene classes; rendered class maps index into this tuple.
SCENE_CLASSES = ('wall', 'floor', 'ceiling', 'cabinet', 'table', 'sofa', 'chair', 'box', 'lamp',
                 'sphere_prop', 'picture', 'window', 'person', 'tvmonitor', 'bottle',
                 'pottedplant')
#: Person part names as the PASCAL-Part annotation spells them; part maps hold index + 1.
PART_NAMES = ('head', 'torso', 'luarm', 'ruarm', 'llarm', 'rlarm', 'luleg', 'ruleg', 'llleg',
              'rlleg')

#: Furniture drawn into the scenes of each layout (the room is always there).
LAYOUT_OBJECTS = {
    'nyud': ('cabinet', 'table', 'sofa', 'chair', 'box', 'lamp', 'sphere_prop', 'picture',
             'window'),
    'pascal': ('person', 'chair', 'sofa', 'table', 'tvmonitor', 'bottle', 'pottedplant',
               'cabinet', 'picture', 'window'),
}


@dataclass
class Primitive:
    """One shape of a scene: its geometry, class, instance, material and person part."""

    shape: object
    cls: str
    instance: int
    material: dict
    part: str = ''


@dataclass
class Scene:
    """A room with objects seen by a camera at the origin."""

    rotation: np.ndarray  # camera -> world
    floor_y: float
    back_z: float
    walls_x: tuple
    light: np.ndarray  # unit vector from surfaces towards the light, world frame
    ambient: float
    layout: str = 'nyud'
    prims: List[Primitive] = field(default_factory=list)
    next_instance: int = 0

    def add(self, shapes: list, cls: str, materials, parts=None) -> int:
        """Add shapes forming one instance; returns its instance id.

        Args:
            shapes: Geometry of the instance.
            cls: Scene class name.
            materials: One material for all shapes, or a list with one per shape.
            parts: Optional person-part name per shape.
        """
        inst = self.next_instance
        self.next_instance += 1
        if not isinstance(materials, list):
            materials = [materials] * len(shapes)
        for shape, mat, part in zip(shapes, materials, parts or [''] * len(shapes)):
            self.prims.append(Primitive(shape, cls, inst, mat, part))
        return inst


def _room(rng: np.random.Generator, layout: str) -> Scene:
    cam_h = rng.uniform(1.1, 1.6)
    room_h = rng.uniform(2.5, 3.0)
    wl, wr, depth = rng.uniform(1.6, 3.0), rng.uniform(1.6, 3.0), rng.uniform(3.8, 6.5)
    yaw, pitch = np.deg2rad(rng.uniform(-18, 18)), np.deg2rad(rng.uniform(4, 18))
    light = np.array([rng.uniform(-0.5, 0.5), -1.0, rng.uniform(-0.6, 0.1)])
    scene = Scene(rotation_yaw_pitch(yaw, pitch), cam_h, depth, (-wl, wr),
                  light / np.linalg.norm(light), rng.uniform(0.3, 0.45), layout)
    wall = make_material('wall', rng)
    for normal, offset in (((1, 0, 0), -wl), ((-1, 0, 0), -wr), ((0, 0, -1), -depth),
                           ((0, 0, 1), -1.0)):
        scene.add([Plane(normal, offset)], 'wall', wall)
    scene.add([Plane((0, -1, 0), -cam_h)], 'floor', make_material('floor', rng))
    scene.add([Plane((0, 1, 0), -(room_h - cam_h))], 'ceiling', make_material('ceiling', rng))
    return scene


def _floor_spot(scene: Scene, rng: np.random.Generator, margin: float):
    """A floor position (x, z) inside the room and roughly inside the view."""
    fwd = scene.rotation @ np.array([0.0, 0.0, 1.0])
    bearing = np.arctan2(fwd[0], fwd[2]) + rng.uniform(-0.45, 0.45)
    r = rng.uniform(1.6, max(1.7, scene.back_z - margin - 0.2))
    x = np.clip(r * np.sin(bearing), scene.walls_x[0] + margin, scene.walls_x[1] - margin)
    z = np.clip(r * np.cos(bearing), 1.2, scene.back_z - margin)
    return float(x), float(z)


def _add_object(scene: Scene, name: str, rng: np.random.Generator) -> None:
    """Add one instance of scene class ``name`` (furniture recipes)."""
    fy = scene.floor_y
    yaw = rng.uniform(-0.4, 0.4)
    if name in ('picture', 'window'):
        w, h = (rng.uniform(0.3, 0.6), rng.uniform(0.2, 0.4)) if name == 'picture' else (
            rng.uniform(0.4, 0.7), rng.uniform(0.4, 0.6))
        cy = fy - rng.uniform(1.3, 1.7)
        side = rng.integers(3)
        if side == 0:  # back wall
            x = rng.uniform(scene.walls_x[0] + w, scene.walls_x[1] - w)
            shape = Box((x, cy, scene.back_z), (w, h, 0.03))
        else:
            wx = scene.walls_x[0] if side == 1 else scene.walls_x[1]
            z = rng.uniform(1.5 + w, max(1.6 + w, scene.back_z - w))
            shape = Box((wx, cy, z), (0.03, h, w))
        scene.add([shape], name, make_material(name, rng))
        return
    if name == 'person':
        _add_person(scene, rng)
        return
    x, z = _floor_spot(scene, rng, margin=0.5)
    mat = make_material(name, rng) if name in MATERIALS else None
    if name == 'cabinet':
        hx, hy, hz = rng.uniform(0.25, 0.45), rng.uniform(0.5, 0.9), rng.uniform(0.2, 0.3)
        scene.add([Box((x, fy - hy, z), (hx, hy, hz), yaw)], name, mat)
    elif name == 'table':
        hx, hz, top = rng.uniform(0.4, 0.7), rng.uniform(0.3, 0.5), rng.uniform(0.7, 0.8)
        top_box = Box((x, fy - top + 0.03, z), (hx, 0.03, hz), yaw)
        c, s = np.cos(yaw), np.sin(yaw)
        legs = [Box((x + c * lx + s * lz, fy - top / 2, z - s * lx + c * lz), (0.03, top / 2, 0.03))
                for lx in (-hx + 0.05, hx - 0.05) for lz in (-hz + 0.05, hz - 0.05)]
        scene.add([top_box] + legs, name, mat)
        if rng.random() < 0.6:  # something on the table
            items = ('tvmonitor', 'bottle') if scene.layout == 'pascal' else ('box', 'sphere_prop')
            _add_on_top(scene, items[int(rng.integers(2))], x, fy - top, z, yaw, rng)
    elif name == 'sofa':
        hx = rng.uniform(0.7, 1.0)
        c, s = np.cos(yaw), np.sin(yaw)
        seat = Box((x, fy - 0.22, z), (hx, 0.22, 0.42), yaw)
        back = Box((x + s * 0.34, fy - 0.45, z + c * 0.34), (hx, 0.45, 0.1), yaw)
        scene.add([seat, back], name, mat)
    elif name == 'chair':
        c, s = np.cos(yaw), np.sin(yaw)
        seat = Box((x, fy - 0.45, z), (0.22, 0.03, 0.22), yaw)
        back = Box((x + s * 0.2, fy - 0.72, z + c * 0.2), (0.22, 0.25, 0.025), yaw)
        legs = [Box((x + c * lx + s * lz, fy - 0.21, z - s * lx + c * lz), (0.02, 0.21, 0.02))
                for lx in (-0.19, 0.19) for lz in (-0.19, 0.19)]
        scene.add([seat, back] + legs, name, mat)
    elif name == 'box':
        h = rng.uniform(0.12, 0.25)
        scene.add([Box((x, fy - h, z), (h, h, h), yaw)], name, mat)
    elif name == 'lamp':
        h = rng.uniform(1.2, 1.6)
        pole = Cylinder(x, z, fy - h, fy, 0.03)
        shade = Cylinder(x, z, fy - h - 0.25, fy - h, rng.uniform(0.14, 0.2))
        scene.add([pole, shade], name, mat)
    elif name == 'sphere_prop':
        r = rng.uniform(0.1, 0.25)
        scene.add([Sphere((x, fy - r, z), r)], name, mat)
    elif name == 'bottle':
        scene.add([Cylinder(x, z, fy - rng.uniform(0.25, 0.35), fy, 0.045)], name, mat)
    elif name == 'pottedplant':
        pot = Cylinder(x, z, fy - 0.3, fy, rng.uniform(0.12, 0.16))
        r = rng.uniform(0.22, 0.32)
        leaves = Sphere((x, fy - 0.3 - r * 0.8, z), r)
        scene.add([pot, leaves], name, [make_material('pot', rng), make_material('foliage', rng)])
    elif name == 'tvmonitor':
        _add_on_top(scene, 'tvmonitor', x, fy - 0.75, z, yaw, rng, stand=True)
    else:
        raise KeyError(f'no recipe for scene class {name!r}; known: {SCENE_CLASSES}')


def _add_on_top(scene, name, x, top_y, z, yaw, rng, stand=False) -> None:
    """Put a small object on a surface at height ``top_y`` (y down)."""
    mat = make_material(name, rng)
    if name == 'tvmonitor':
        w, h = rng.uniform(0.25, 0.4), rng.uniform(0.17, 0.25)
        shapes = [Box((x, top_y - h - 0.05, z), (w, h, 0.03), yaw)]
        if stand:
            shapes.append(Box((x, (top_y + scene.floor_y) / 2 - 0.05, z),
                              (0.04, (scene.floor_y - top_y) / 2 + 0.05, 0.04)))
        else:
            shapes.append(Box((x, top_y - 0.025, z), (0.06, 0.025, 0.05), yaw))
        scene.add(shapes, name, mat)
    elif name == 'bottle':
        scene.add([Cylinder(x, z, top_y - rng.uniform(0.22, 0.32), top_y, 0.04)], name, mat)
    elif name == 'box':
        h = rng.uniform(0.08, 0.15)
        scene.add([Box((x, top_y - h, z), (h, h, h), yaw)], name, mat)
    else:  # sphere_prop
        r = rng.uniform(0.08, 0.15)
        scene.add([Sphere((x, top_y - r, z), r)], name, mat)


def _add_person(scene: Scene, rng: np.random.Generator) -> None:
    """A standing figure made of PASCAL-Part-named parts (head, torso, arms, legs)."""
    x, z = _floor_spot(scene, rng, margin=0.5)
    fy, height = scene.floor_y, rng.uniform(1.55, 1.85)
    yaw = rng.uniform(-0.8, 0.8)
    lat = np.array([np.cos(yaw), -np.sin(yaw)])  # the figure's left-right axis in (x, z)

    def at(off):
        return x + lat[0] * off, z + lat[1] * off

    torso_hx = 0.19
    shapes, parts = [], []
    for side, sgn in (('l', -1), ('r', 1)):
        lx, lz = at(sgn * 0.09)
        shapes += [Cylinder(lx, lz, fy - 0.27 * height, fy, 0.06),
                   Cylinder(lx, lz, fy - 0.5 * height, fy - 0.27 * height, 0.075)]
        parts += [side + 'lleg', side + 'uleg']
        ax, az = at(sgn * (torso_hx + 0.055))
        shapes += [Cylinder(ax, az, fy - 0.82 * height, fy - 0.64 * height, 0.05),
                   Cylinder(ax, az, fy - 0.64 * height, fy - 0.47 * height, 0.045)]
        parts += [side + 'uarm', side + 'larm']
    shapes.append(Box((x, fy - 0.66 * height, z), (torso_hx, 0.16 * height, 0.11), yaw))
    parts.append('torso')
    r = 0.065 * height
    shapes.append(Sphere((x, fy - 0.82 * height - r, z), r))
    parts.append('head')
    shirt = make_material('sofa', rng, colour_a=SHIRTS[rng.integers(len(SHIRTS))])
    shirt['pattern'], shirt['b'] = 'plain', shirt['a'] * 0.85
    skin, legs = make_material('skin', rng), make_material('trousers', rng)
    look = {'head': skin, 'torso': shirt, 'uarm': shirt, 'larm': skin, 'uleg': legs,
            'lleg': legs}
    scene.add(shapes, 'person', [look[p if p in look else p[1:]] for p in parts],
              parts)


def sample_scene(layout: str, rng: np.random.Generator) -> Scene:
    """Draw a random scene for ``layout`` (``'nyud'`` or ``'pascal'``).

    Args:
        layout: Which object set to use (see :data:`LAYOUT_OBJECTS`).
        rng: Random generator; the scene is a pure function of its state.

    Returns:
        Scene: The room with 3-7 objects (PASCAL scenes hold a person 60% of the time).
    """
    if layout not in LAYOUT_OBJECTS:
        raise KeyError(f'unknown layout {layout!r}; expected one of {sorted(LAYOUT_OBJECTS)}')
    scene = _room(rng, layout)
    names = list(LAYOUT_OBJECTS[layout])
    if layout == 'pascal':
        for _ in range(int(rng.random() < 0.6) + int(rng.random() < 0.25)):
            _add_object(scene, 'person', rng)
        names.remove('person')
    for name in rng.choice(names, size=int(rng.integers(3, 7)), replace=True):
        _add_object(scene, str(name), rng)
    return scene


def render_scene(scene: Scene, height: int, width: int, rng: np.random.Generator) -> Dict:
    """Ray-cast a scene.

    Args:
        scene: The scene.
        height: Image height.
        width: Image width.
        rng: Random generator for the sensor noise.

    Returns:
        dict: ``image`` (H, W, 3) uint8 RGB; ``depth`` (H, W) float32 z-depth in
        metres; ``normals`` (H, W, 3) float32 unit camera-frame normals facing
        the camera; ``cls`` (H, W) int64 index into :data:`SCENE_CLASSES`;
        ``instance`` (H, W) int64; ``part`` (H, W) int64, 0 = no part, else
        index into :data:`PART_NAMES` + 1; ``K`` (3, 3) intrinsics.
    """
    K = camera_intrinsics(height, width)
    d_cam = camera_rays(K, height, width)
    d = rowmat(d_cam, scene.rotation.T)
    n_pix = len(d)
    # The room's planes cover every pixel: intersect them all in one batch.
    planes = [i for i, p in enumerate(scene.prims) if isinstance(p.shape, Plane)]
    normals_w = np.stack([scene.prims[i].shape.normal for i in planes])  # (P, 3)
    offsets = np.array([scene.prims[i].shape.offset for i in planes])
    denom = rowmat(d, normals_w.T)  # (N, P)
    with np.errstate(divide='ignore', invalid='ignore'):
        t_all = np.where(denom < -1e-9, offsets / denom, np.inf)
    first = np.argmin(t_all, axis=1)
    best_t = t_all[np.arange(n_pix), first]
    best_n = normals_w[first]
    best_p = np.asarray(planes)[first]
    for i, prim in enumerate(scene.prims):
        if isinstance(prim.shape, Plane):
            continue
        rays = _candidate_rays(prim.shape, scene.rotation, K, height, width)
        if rays is not None and len(rays) == 0:
            continue
        t, n = prim.shape.intersect(d if rays is None else d[rays])
        closer = t < (best_t if rays is None else best_t[rays])
        idx = np.flatnonzero(closer) if rays is None else rays[closer]
        best_t[idx], best_n[idx], best_p[idx] = t[closer], n[closer], i
    if not np.isfinite(best_t).all():
        raise RuntimeError('some rays left the room; the room must be closed')
    points = d * best_t[:, None]
    albedo = np.zeros((n_pix, 3))
    # Group pixels by primitive once instead of masking the whole image per primitive.
    order = np.argsort(best_p, kind='stable')
    bounds = np.searchsorted(best_p[order], np.arange(len(scene.prims) + 1))
    for i, prim in enumerate(scene.prims):
        idx = order[bounds[i]:bounds[i + 1]]
        if len(idx):
            albedo[idx] = shade_material(prim.material, points[idx])
    cls_lut = np.array([SCENE_CLASSES.index(p.cls) for p in scene.prims])
    inst_lut = np.array([p.instance for p in scene.prims])
    part_lut = np.array([PART_NAMES.index(p.part) + 1 if p.part else 0 for p in scene.prims])
    cls_map, inst_map, part_map = cls_lut[best_p], inst_lut[best_p], part_lut[best_p]
    lambert = np.clip(rowmat(best_n, scene.light[:, None])[:, 0], 0, None)
    # Mild falloff with distance gives the image a depth cue, as indoor lighting does.
    shade = (scene.ambient + (1 - scene.ambient) * lambert) / (1 + 0.04 * best_t)
    img = albedo * shade[:, None] * 255 * 1.1 + rng.normal(0, 2.0, (n_pix, 3))
    normals = rowmat(best_n, scene.rotation)  # world -> camera
    facing = (normals * d_cam).sum(1) > 0
    normals[facing] *= -1
    hw = (height, width)
    return dict(image=np.clip(img, 0, 255).round().astype(np.uint8).reshape(*hw, 3),
                depth=best_t.astype(np.float32).reshape(hw),
                normals=normals.astype(np.float32).reshape(*hw, 3),
                cls=cls_map.reshape(hw), instance=inst_map.reshape(hw),
                part=part_map.reshape(hw), K=K)


def _candidate_rays(shape, rotation: np.ndarray, K: np.ndarray, height: int, width: int):
    """Indices of the rays inside the shape's projected bounding box (``None``: all rays).

    Culling keeps rendering cheap: most objects cover a small part of the image.
    """
    corners = shape.corners()
    if corners is None:
        return None
    cam = corners @ rotation  # world -> camera
    if (cam[:, 2] <= 1e-3).any():
        return None  # straddles the camera plane: test every ray
    u = K[0, 0] * cam[:, 0] / cam[:, 2] + K[0, 2]
    v = K[1, 1] * cam[:, 1] / cam[:, 2] + K[1, 2]
    u0, u1 = max(int(np.floor(u.min())), 0), min(int(np.ceil(u.max())) + 1, width)
    v0, v1 = max(int(np.floor(v.min())), 0), min(int(np.ceil(v.max())) + 1, height)
    if u0 >= u1 or v0 >= v1:
        return np.zeros(0, dtype=np.int64)
    return (np.arange(v0, v1)[:, None] * width + np.arange(u0, u1)[None, :]).ravel()


def boundary_map(labels: np.ndarray, instance: np.ndarray, depth: np.ndarray,
                 rel_jump: float = 0.04) -> np.ndarray:
    """One-pixel-wide boundaries from label changes and depth discontinuities.

    A pixel is a boundary if its right or lower neighbour has another label,
    or belongs to another instance *and* differs in depth by more than
    ``rel_jump`` (relative), i.e. an occluding contour.

    Args:
        labels: (H, W) semantic labels.
        instance: (H, W) instance ids.
        depth: (H, W) depth.
        rel_jump: Relative depth jump that counts as a discontinuity.

    Returns:
        np.ndarray: (H, W) uint8 0/1.
    """
    edge = np.zeros(labels.shape, dtype=bool)
    for axis in (0, 1):
        a = [slice(None)] * 2
        b = [slice(None)] * 2
        a[axis], b[axis] = slice(0, -1), slice(1, None)
        a, b = tuple(a), tuple(b)
        jump = np.abs(depth[a] - depth[b]) > rel_jump * np.minimum(depth[a], depth[b])
        edge[a] |= (labels[a] != labels[b]) | ((instance[a] != instance[b]) & jump)
    return edge.astype(np.uint8)
