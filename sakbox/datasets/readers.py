"""Readers of the annotation files of the multi-task datasets.

Each reader decodes one file into the array convention of
``docs/architecture.md`` and validates it: every problem raises an error that
names the file and says what was expected. Datasets name a reader per task
in their data infos (``ann_info[task]['reader']``) and
:class:`~sakbox.datasets.transforms.LoadMultiTaskAnnotations` calls it, so
new formats only need a new entry in :data:`READERS`.
"""
import os.path as osp
from typing import Callable, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ..structures.tasks import IGNORE_INDEX
from .class_names import HUMAN_PART_GROUPS, PERSON_CLASS_IND


class AnnotationError(ValueError):
    """An annotation file is missing, unreadable or holds invalid values."""


def _open_png(path: str) -> np.ndarray:
    """Decode an image file with PIL (keeps palette indices, like the reference loaders)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file not found: {path}')
    try:
        with Image.open(path) as im:
            im.load()
            return np.asarray(im)
    except Exception as e:  # PIL raises several types for corrupt or truncated files
        raise AnnotationError(f'cannot decode {path}: {type(e).__name__}: {e}') from e


def read_label_png(path: str, num_classes: int, reduce_zero_label: bool = False) -> np.ndarray:
    """Read a label map; values must be class indices or 255 (ignore).

    Args:
        path: PNG file (grayscale or palette).
        num_classes: Number of classes after decoding.
        reduce_zero_label: Whether the file stores label + 1 with 0 = void (NYUD-v2):
            then 0 becomes 255 and ``v`` becomes ``v - 1``.

    Returns:
        np.ndarray: (H, W) uint8 labels in [0, num_classes) or 255.
    """
    raw = _open_png(path)
    if raw.ndim != 2:
        raise AnnotationError(f'{path}: a label map must be single-channel, got shape {raw.shape}')
    if raw.dtype == np.uint8:
        # A 256-entry table decodes and validates in one gather + one histogram.
        stored = np.arange(256)
        lut = stored.copy()
        if reduce_zero_label:
            lut = np.where(stored == 0, IGNORE_INDEX, stored - 1)
            lut[IGNORE_INDEX] = IGNORE_INDEX
        present = np.bincount(raw.ravel(), minlength=256) > 0
        bad_values = stored[present & (lut >= num_classes) & (lut != IGNORE_INDEX)]
        labels = lut.astype(np.uint8)[raw]
    else:
        raw = raw.astype(np.int64)
        labels = np.where(raw == 0, IGNORE_INDEX, raw - 1) if reduce_zero_label else raw
        if reduce_zero_label:
            labels[raw == IGNORE_INDEX] = IGNORE_INDEX
        bad_values = np.unique(raw[(labels >= num_classes) & (labels != IGNORE_INDEX)])
        labels = np.where(labels == IGNORE_INDEX, IGNORE_INDEX, labels).astype(np.uint8)
    if len(bad_values):
        stored = (f'1..{num_classes} (0 = void)' if reduce_zero_label
                  else f'0..{num_classes - 1}')
        raise AnnotationError(
            f'{path}: label values {bad_values[:10].tolist()} are outside the class range; '
            f'expected {stored} or {IGNORE_INDEX} (ignore)')
    return labels


def read_binary_png(path: str, threshold: float = 0.5) -> np.ndarray:
    """Read a 0-255 map (edges, saliency) and binarise it at ``threshold * 255``.

    Args:
        path: PNG file.
        threshold: Fraction of 255 above which a pixel is 1.

    Returns:
        np.ndarray: (H, W) uint8 0/1.
    """
    raw = _open_png(path)
    if raw.ndim == 3:  # some releases store grey maps as RGB(A); all channels agree
        raw = raw[..., 0]
    if raw.ndim != 2:
        raise AnnotationError(f'{path}: expected a (H, W) map, got shape {raw.shape}')
    scale = 65535.0 if raw.dtype == np.uint16 else 255.0
    return (raw > threshold * scale).astype(np.uint8)


def read_depth_npy(path: str) -> np.ndarray:
    """Read a float depth map in metres (``<= 0`` = invalid).

    Args:
        path: ``.npy`` file holding a (H, W) or (H, W, 1) floating-point array.

    Returns:
        np.ndarray: (H, W) float32.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file not found: {path}')
    try:
        depth = np.load(path, allow_pickle=False)
    except Exception as e:  # truncated files raise ValueError/EOFError/OSError
        raise AnnotationError(f'cannot read depth {path}: {type(e).__name__}: {e}') from e
    if not np.issubdtype(depth.dtype, np.floating):
        raise AnnotationError(
            f'{path}: depth must be float32 metres, got dtype {depth.dtype}')
    if depth.ndim == 3 and depth.shape[-1] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise AnnotationError(f'{path}: depth must be (H, W), got shape {depth.shape}')
    if not np.isfinite(depth).all():
        n = int((~np.isfinite(depth)).sum())
        raise AnnotationError(
            f'{path}: depth holds {n} NaN/inf values; mark invalid pixels with 0 instead')
    return depth.astype(np.float32)


#: uint8 -> [-1, 1]: a table gather is cheaper than converting and scaling every value.
_NORMALS_LUT = (np.arange(256, dtype=np.float32) * np.float32(2.0 / 255.0) - 1.0)


def read_normals_png(path: str) -> np.ndarray:
    """Read normals stored as RGB uint8 ``(n + 1) * 127.5``.

    Args:
        path: PNG file.

    Returns:
        np.ndarray: (H, W, 3) float32 in [-1, 1].
    """
    raw = _open_png(path)
    if raw.ndim != 3 or raw.shape[2] not in (3, 4):
        raise AnnotationError(f'{path}: normals must be an RGB image, got shape {raw.shape}')
    if raw.dtype != np.uint8:
        raise AnnotationError(f'{path}: normals must be 8-bit RGB, got {raw.dtype}')
    return _NORMALS_LUT[raw[..., :3]]


def _loadmat(path: str, key: str):
    """Load ``key`` from a MATLAB file, with errors that name the file and the key."""
    import scipy.io as sio
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file not found: {path}')
    try:
        mat = sio.loadmat(path)
    except Exception as e:
        raise AnnotationError(f'cannot read {path}: {type(e).__name__}: {e}') from e
    if key not in mat:
        found = sorted(k for k in mat if not k.startswith('__'))
        raise AnnotationError(f'{path}: no variable {key!r} in the .mat file (found {found})')
    return mat[key]


def read_context_label_map(path: str) -> np.ndarray:
    """Read the ``LabelMap`` (PASCAL-Context 459-class ids) of a ``trainval/<id>.mat``.

    Returns:
        np.ndarray: (H, W) int64.
    """
    label_map = np.asarray(_loadmat(path, 'LabelMap'))
    if label_map.ndim != 2 or not np.issubdtype(label_map.dtype, np.number):
        raise AnnotationError(f'{path}: LabelMap must be a numeric (H, W) array, got '
                              f'{label_map.dtype} {label_map.shape}')
    return label_map.astype(np.int64)


def read_context_edges(path: str) -> np.ndarray:
    """Boundaries of the PASCAL-Context label map (the multi-task benchmark's recipe).

    Pixels where the Laplacian of ``LabelMap`` is non-zero, thinned to one pixel.

    Args:
        path: ``pascal-context/trainval/<id>.mat``.

    Returns:
        np.ndarray: (H, W) uint8 0/1.
    """
    import cv2
    try:
        from skimage.morphology import thin
    except ImportError as e:  # pragma: no cover - scikit-image is a runtime requirement
        raise ImportError('PASCAL-Context edges need scikit-image (pip install scikit-image)') \
            from e
    label_map = read_context_label_map(path).astype(np.float64)
    lap = cv2.Laplacian(label_map, cv2.CV_64F)
    return thin(np.abs(lap) > 0).astype(np.uint8)


def read_masked_normals(path: str, label_map_path: str, valid_classes: Iterable[int]) -> np.ndarray:
    """Read distilled normals and zero them outside classes with NYU-compatible geometry.

    Args:
        path: ``normals_distill/<id>.png``.
        label_map_path: ``pascal-context/trainval/<id>.mat`` with the context labels.
        valid_classes: PASCAL-Context ids on which the normals are valid.

    Returns:
        np.ndarray: (H, W, 3) float32; invalid pixels are the zero vector.
    """
    normals = read_normals_png(path)
    label_map = read_context_label_map(label_map_path)
    if label_map.shape != normals.shape[:2]:
        raise AnnotationError(f'{label_map_path}: LabelMap shape {label_map.shape} differs from '
                              f'{path} shape {normals.shape[:2]}')
    valid = np.isin(label_map, np.asarray(list(valid_classes), dtype=np.int64))
    return normals * valid[..., None]


def _field(record, name: str, path: str):
    names = record.dtype.names or ()
    if name not in names:
        raise AnnotationError(f'{path}: struct has no field {name!r} (fields: {list(names)})')
    return record[name]


def read_pascal_parts(path: str, shape: Optional[Tuple[int, int]] = None,
                      part_groups: Optional[Dict[str, int]] = None,
                      person_class: int = PERSON_CLASS_IND) -> np.ndarray:
    """Human-part labels from a PASCAL-Part ``anno`` struct.

    The union of every person with part annotations is painted with grouped
    part labels (1..6) over background 0; an image without annotated people
    is all 0 (the ``AddIgnoreRegions`` transform turns that into ignore).

    Args:
        path: ``human_parts/<id>.mat``.
        shape: (H, W) to use when the file lists no object at all.
        part_groups: Part name -> label (default :data:`HUMAN_PART_GROUPS`).
        person_class: ``class_ind`` of people.

    Returns:
        np.ndarray: (H, W) uint8.
    """
    groups = HUMAN_PART_GROUPS if part_groups is None else part_groups
    anno = _loadmat(path, 'anno')
    try:
        objects = np.asarray(_field(anno[0, 0], 'objects', path)).reshape(-1)
    except (IndexError, TypeError) as e:
        raise AnnotationError(f'{path}: "anno" is not a PASCAL-Part struct ({e})') from e
    target = None
    for obj in objects:
        mask = np.asarray(_field(obj, 'mask', path))
        if target is None:
            target = np.zeros(mask.shape, dtype=np.uint8)
        if mask.shape != target.shape:
            raise AnnotationError(f'{path}: object masks differ in shape ({mask.shape} vs '
                                  f'{target.shape})')
        cls_ind = int(np.asarray(_field(obj, 'class_ind', path)).reshape(-1)[0])
        parts = np.asarray(_field(obj, 'parts', path))
        if cls_ind != person_class or parts.size == 0:
            continue
        for part in parts.reshape(-1):
            name = str(np.asarray(_field(part, 'part_name', path)).reshape(-1)[0])
            if name not in groups:
                raise AnnotationError(f'{path}: unknown human part {name!r}; known: '
                                      f'{sorted(groups)}')
            target[np.asarray(_field(part, 'mask', path)).astype(bool)] = groups[name]
    if target is None:
        if shape is None:
            raise AnnotationError(f'{path}: lists no object, so the map size is unknown')
        target = np.zeros(tuple(shape), dtype=np.uint8)
    return target


def read_pascal_part_categories(path: str) -> Sequence[int]:
    """``class_ind`` of every object in a PASCAL-Part ``anno`` struct."""
    anno = _loadmat(path, 'anno')
    objects = np.asarray(_field(anno[0, 0], 'objects', path)).reshape(-1)
    return [int(np.asarray(_field(o, 'class_ind', path)).reshape(-1)[0]) for o in objects]


#: Reader name (``ann_info[task]['reader']``) -> function.
READERS: Dict[str, Callable[..., np.ndarray]] = {
    'label_png': read_label_png,
    'binary_png': read_binary_png,
    'depth_npy': read_depth_npy,
    'normals_png': read_normals_png,
    'masked_normals': read_masked_normals,
    'context_edges': read_context_edges,
    'pascal_parts': read_pascal_parts,
}
