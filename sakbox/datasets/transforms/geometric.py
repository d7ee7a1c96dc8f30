"""Geometric transforms that keep the image and every task map aligned.

All sizes here are **(H, W)**. Randomness comes from ``np.random`` so that
MMEngine's per-worker seeding makes runs reproducible.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, RandomFlip
from mmcv.transforms.utils import cache_randomness

from ...registry import TRANSFORMS
from ...structures.padding import check_pad_position, pad_offset
from ...utils.sizes import to_hw
from .task_maps import IMG_PAD_VALUE, iter_task_maps, map_spec, pad_map, resize_map

_INTERP = dict(nearest=cv2.INTER_NEAREST_EXACT, bilinear=cv2.INTER_LINEAR,
               bicubic=cv2.INTER_CUBIC, area=cv2.INTER_AREA)


#: Pillow filters for ``backend='pillow'`` (what torchvision's ``Resize`` uses on PIL images).
_PIL_INTERP = dict(nearest='NEAREST', bilinear='BILINEAR', bicubic='BICUBIC', area='BOX')
RESIZE_BACKENDS = ('cv2', 'pillow')


def check_resize_args(interpolation: str, backend: str) -> None:
    """Raise a ValueError naming the bad ``interpolation`` / ``backend``."""
    if interpolation not in _INTERP:
        raise ValueError(f'interpolation must be one of {sorted(_INTERP)}, got {interpolation!r}')
    if backend not in RESIZE_BACKENDS:
        raise ValueError(f'backend must be one of {RESIZE_BACKENDS}, got {backend!r}')


def resize_image(img: np.ndarray, size_hw: Tuple[int, int], interpolation: str = 'bilinear',
                 backend: str = 'cv2') -> np.ndarray:
    """Resize a (H, W[, C]) image to ``size_hw``.

    ``backend='cv2'`` is OpenCV (no antialiasing when shrinking);
    ``backend='pillow'`` is Pillow's resampling, which widens its filter when
    shrinking (antialiased) and is exactly what torchvision's ``Resize`` /
    ``RandomResizedCrop`` do on PIL images (the official SAK stage-1 and
    ImageNet pipelines). Measured on skimage photos cropped and resized to
    384x384: equal within 1 grey level when enlarging, up to 61 (mean ~1)
    apart when shrinking by 1.1-1.3x.

    Args:
        img: The image; ``'pillow'`` needs uint8 with 1, 3 or 4 channels.
        size_hw: Target (H, W).
        interpolation: nearest, bilinear, bicubic or area (Pillow: box).
        backend: ``'cv2'`` or ``'pillow'``.

    Returns:
        np.ndarray: The resized image, same dtype and channels.
    """
    nh, nw = size_hw
    if backend == 'cv2':
        return cv2.resize(img, (nw, nh), interpolation=_INTERP[interpolation])
    from PIL import Image
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (
            img.ndim == 3 and img.shape[2] not in (1, 3, 4)):
        raise ValueError(f"backend='pillow' resizes uint8 images with 1, 3 or 4 channels, "
                         f'got {img.dtype} {img.shape}')
    squeeze = img.ndim == 3 and img.shape[2] == 1
    pil = Image.fromarray(img[..., 0] if squeeze else np.ascontiguousarray(img))
    out = np.asarray(pil.resize((nw, nh), getattr(Image.Resampling, _PIL_INTERP[interpolation])))
    return out[..., None] if squeeze else out


def _compose_scale(results: dict, sw: float, sh: float) -> None:
    old = results.get('scale_factor', (1.0, 1.0))
    results['scale_factor'] = (old[0] * sw, old[1] * sh)


def resize_results(results: dict, size_hw: Tuple[int, int], interpolation: str = 'bilinear',
                   depth_scale: Optional[float] = None, backend: str = 'cv2') -> dict:
    """Resize the image (``interpolation``) and all task maps (nearest) to ``size_hw``.

    Args:
        results: Pipeline results.
        size_hw: Target (H, W).
        interpolation: Image interpolation: nearest, bilinear, bicubic or area.
        depth_scale: Factor depth is divided by; default: the geometric mean of
            the x and y scale factors.
        backend: Image resize backend, ``'cv2'`` or ``'pillow'`` (see
            :func:`resize_image`); task maps always use OpenCV's nearest.

    Returns:
        dict: ``results``, updated in place (``img_shape``, ``scale_factor``).
    """
    h, w = results['img'].shape[:2]
    nh, nw = size_hw
    sw, sh = nw / w, nh / h
    depth_scale = math.sqrt(sw * sh) if depth_scale is None else depth_scale
    results['img'] = resize_image(results['img'], (nh, nw), interpolation, backend)
    for task, key, arr in iter_task_maps(results):
        results[key] = resize_map(task, arr, (nh, nw), depth_scale)
    results['img_shape'] = (nh, nw)
    _compose_scale(results, sw, sh)
    return results


@TRANSFORMS.register_module()
class MultiTaskResize(BaseTransform):
    """Resize image and task maps by a factor or to a size.

    Args:
        scale: Target (H, W). With ``keep_ratio`` the image is scaled as large
            as possible to fit in it (mmcv's rescale rule: long side <= max,
            short side <= min).
        scale_factor: Zoom factor (used when ``scale`` is None).
        keep_ratio: Keep the aspect ratio when ``scale`` is given.
        interpolation: Image interpolation.
        backend: Image resize backend, ``'cv2'`` (default) or ``'pillow'`` (see
            :func:`resize_image`).
    """

    def __init__(self, scale: Optional[Sequence[int]] = None,
                 scale_factor: Optional[float] = None, keep_ratio: bool = True,
                 interpolation: str = 'bilinear', backend: str = 'cv2') -> None:
        if (scale is None) == (scale_factor is None):
            raise ValueError('give exactly one of scale and scale_factor')
        check_resize_args(interpolation, backend)
        self.backend = backend
        self.scale = None if scale is None else to_hw(scale, 'scale')
        self.scale_factor = scale_factor
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation

    def _target(self, h: int, w: int, factor: Optional[float]) -> Tuple[int, int]:
        if factor is not None:
            # int() truncation matches the reference implementation's random scaling.
            return max(int(h * factor), 1), max(int(w * factor), 1)
        if not self.keep_ratio:
            return self.scale
        (nw, nh) = mmcv.rescale_size((w, h), (self.scale[1], self.scale[0]))
        return nh, nw

    def transform(self, results: dict) -> dict:
        """Resize.

        Args:
            results: Pipeline results.

        Returns:
            dict: Updated ``results``.
        """
        h, w = results['img'].shape[:2]
        return resize_results(results, self._target(h, w, self.scale_factor),
                              self.interpolation, depth_scale=self.scale_factor,
                              backend=self.backend)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, scale_factor={self.scale_factor}, '
                f'keep_ratio={self.keep_ratio})')


@TRANSFORMS.register_module()
class RandomRescale(MultiTaskResize):
    """Zoom by a factor drawn uniformly from ``ratio_range`` (depth divided by it).

    Args:
        ratio_range: (min, max) factor; the reference setting is (0.5, 2.0).
        interpolation: Image interpolation.
    """

    def __init__(self, ratio_range: Sequence[float] = (0.5, 2.0),
                 interpolation: str = 'bilinear') -> None:
        lo, hi = float(ratio_range[0]), float(ratio_range[1])
        if not 0 < lo <= hi:
            raise ValueError(f'ratio_range must satisfy 0 < min <= max, got {ratio_range}')
        super().__init__(scale_factor=1.0, interpolation=interpolation)
        self.ratio_range = (lo, hi)

    @cache_randomness
    def _random_factor(self) -> float:
        lo, hi = self.ratio_range
        return lo if lo == hi else float(np.random.uniform(lo, hi))

    def transform(self, results: dict) -> dict:
        """Resize by a random factor (see the class docstring)."""
        factor = self._random_factor()
        if factor == 1.0:
            return results
        h, w = results['img'].shape[:2]
        return resize_results(results, self._target(h, w, factor), self.interpolation,
                              depth_scale=factor)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(ratio_range={self.ratio_range})'


def crop_results(results: dict, y0: int, x0: int, h: int, w: int) -> dict:
    """Crop the image and every task map to rows ``y0:y0+h``, columns ``x0:x0+w``."""
    results['img'] = results['img'][y0:y0 + h, x0:x0 + w]
    for _, key, arr in iter_task_maps(results):
        results[key] = arr[y0:y0 + h, x0:x0 + w]
    results['img_shape'] = results['img'].shape[:2]
    return results


@TRANSFORMS.register_module()
class MultiTaskRandomCrop(BaseTransform):
    """Random crop of at most ``crop_size``, optionally rejecting crops one class dominates.

    As in the reference implementation (and mmseg), up to 10 crops are drawn
    until no single ``gt_semseg`` class covers ``cat_max_ratio`` or more of the
    non-ignored pixels (and at least two classes are present). Images smaller
    than the crop keep their size; the data preprocessor pads them to the crop
    size (``MultiTaskDataPreProcessor(size=crop_size)``; centred with
    ``pad_position='center'`` as the official SAK pipeline), or pad them in the
    pipeline with ``MultiTaskPad``.

    Args:
        crop_size: (H, W).
        cat_max_ratio: Largest share of one class; 1.0 disables the check.
        ignore_index: Label ignored by the check.
    """

    def __init__(self, crop_size: Union[int, Sequence[int]], cat_max_ratio: float = 1.0,
                 ignore_index: int = 255) -> None:
        self.crop_size = to_hw(crop_size, 'crop_size')
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    @cache_randomness
    def _random_offset(self, h: int, w: int) -> Tuple[int, int]:
        return (np.random.randint(0, max(h - self.crop_size[0], 0) + 1),
                np.random.randint(0, max(w - self.crop_size[1], 0) + 1))

    def transform(self, results: dict) -> dict:
        """Crop (see the class docstring)."""
        h, w = results['img'].shape[:2]
        ch, cw = min(self.crop_size[0], h), min(self.crop_size[1], w)
        y0, x0 = self._random_offset(h, w)
        seg = results.get('gt_semseg')
        if self.cat_max_ratio < 1.0 and seg is not None:
            for _ in range(10):
                counts = np.bincount(seg[y0:y0 + ch, x0:x0 + cw].ravel(), minlength=256)
                if self.ignore_index < len(counts):
                    counts[self.ignore_index] = 0
                counts = counts[counts > 0]
                if len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio:
                    break
                y0, x0 = self._random_offset(h, w)
        return crop_results(results, y0, x0, ch, cw)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(crop_size={self.crop_size}, '
                f'cat_max_ratio={self.cat_max_ratio})')


@TRANSFORMS.register_module()
class MultiTaskRandomFlip(RandomFlip):
    """mmcv's ``RandomFlip`` for the image and every task map.

    Maps of tasks with ``TaskSpec.flip_negates`` (normals) are vectors: a
    horizontal flip negates their x component, a vertical flip their y
    component, a diagonal flip both.

    Args:
        prob: Flip probability (or one per direction).
        direction: ``horizontal``, ``vertical``, ``diagonal`` or a list of them.
    """

    _VECTOR_SIGN = dict(horizontal=(-1, 1, 1), vertical=(1, -1, 1), diagonal=(-1, -1, 1))

    def __init__(self, prob: Union[float, Sequence[float]] = 0.5,
                 direction: Union[str, Sequence[str]] = 'horizontal') -> None:
        # mmcv insists on floats; accept the ints configs naturally contain (prob=1).
        prob = float(prob) if isinstance(prob, (int, float)) else [float(p) for p in prob]
        super().__init__(prob=prob, direction=direction)

    def _flip(self, results: dict) -> None:
        direction = results['flip_direction']
        results['img'] = mmcv.imflip(results['img'], direction=direction)
        for task, key, arr in iter_task_maps(results):
            arr = mmcv.imflip(arr, direction=direction).copy()  # a copy: normals change in place
            if map_spec(task).flip_negates and arr.ndim == 3:
                sign = self._VECTOR_SIGN[direction][:arr.shape[-1]]
                arr *= np.asarray(sign, dtype=arr.dtype)
            results[key] = arr


@TRANSFORMS.register_module()
class MultiTaskPad(BaseTransform):
    """Pad the image and task maps to a minimum size and/or a size multiple.

    Pad values: image 0, each task map its ``TaskSpec.pad_value`` (label maps
    255, depth 0, normals 0; override with ``pad_val``). The image is still uint8 here, so image padding 0 is black
    (about -2 after ImageNet normalisation); padding with the mean colour (0
    after normalisation), as the official SAK ``PadImage``, is the data
    preprocessor's job (``MultiTaskDataPreProcessor(size=..., pad_position=
    'center')``), which is what the SAK configs use.

    The (top, left) of the original content is added to ``results
    ['pad_offset']`` (``PackMultiTaskInputs`` puts it in the metainfo) and
    ``pad_shape`` is set, so later padding, the ground-truth stacking and the
    prediction crop-back stay aligned.

    Args:
        size: Minimum (H, W); larger inputs are left as they are.
        size_divisor: Pad H and W up to a multiple of this (after ``size``).
        pad_val: Overrides of the per-key pad values, e.g. ``dict(img=128)``.
        position: ``'bottom_right'`` (default, keeps pixel (0, 0)) or
            ``'center'`` (offset ``((H - h) // 2, (W - w) // 2)``, the
            official placement).
    """

    def __init__(self, size: Optional[Union[int, Sequence[int]]] = None,
                 size_divisor: Optional[int] = None, pad_val: Optional[dict] = None,
                 position: str = 'bottom_right') -> None:
        if size is None and size_divisor is None:
            raise ValueError('give size and/or size_divisor')
        self.size = None if size is None else to_hw(size, 'size')
        self.size_divisor = size_divisor
        self.pad_val = dict(pad_val or {})
        self.position = check_pad_position(position, type(self).__name__)

    def transform(self, results: dict) -> dict:
        """Pad (see the class docstring)."""
        h, w = results['img'].shape[:2]
        th, tw = (max(h, self.size[0]), max(w, self.size[1])) if self.size else (h, w)
        if self.size_divisor:
            d = self.size_divisor
            th, tw = -(-th // d) * d, -(-tw // d) * d
        offset = pad_offset((h, w), (th, tw), self.position)
        results['img'] = pad_map(results['img'], (th, tw),
                                 self.pad_val.get('img', IMG_PAD_VALUE), offset)
        for task, key, arr in iter_task_maps(results):
            value = self.pad_val.get(task, map_spec(task).pad_value)
            results[key] = pad_map(arr, (th, tw), value, offset)
        inner = results.get('pad_offset', (0, 0))
        results['pad_offset'] = (int(inner[0]) + offset[0], int(inner[1]) + offset[1])
        results['pad_shape'] = (th, tw)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, size_divisor={self.size_divisor}, '
                f'position={self.position!r})')


def random_resized_box(rng, h: int, w: int, scale: Sequence[float],
                       ratio: Sequence[float]) -> Tuple[int, int, int, int]:
    """Draw an Inception-style crop box (random area fraction and aspect ratio).

    Args:
        rng: Source of randomness: a ``np.random.Generator`` (``uniform`` /
            ``integers``) or the legacy ``np.random`` module / ``RandomState``
            (``uniform`` / ``randint``); the draws are the same calls in the same order.
        h (int): Image height.
        w (int): Image width.
        scale (Sequence[float]): Range of the crop area as a fraction of the image area.
        ratio (Sequence[float]): Range of the crop aspect ratio (W / H).

    Returns:
        Tuple[int, int, int, int]: ``(y0, x0, crop_h, crop_w)``.
    """
    integers = getattr(rng, 'integers', None) or rng.randint
    area = h * w
    log_ratio = np.log(ratio)
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            return int(integers(0, h - ch + 1)), int(integers(0, w - cw + 1)), ch, cw
    # Fallback (as torchvision): the central crop with the closest allowed ratio.
    in_ratio = w / h
    if in_ratio < min(ratio):
        cw, ch = w, int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        ch, cw = h, int(round(h * max(ratio)))
    else:
        ch, cw = h, w
    return (h - ch) // 2, (w - cw) // 2, ch, cw


@TRANSFORMS.register_module()
class RandomResizedCrop(BaseTransform):
    """Crop a random area and aspect ratio, then resize to ``size`` (Inception-style).

    Works on a bare image (stage-1 distillation) and on task maps alike
    (nearest neighbour for maps, depth divided by the mean zoom).

    Args:
        size: Output (H, W).
        scale: Range of the crop area as a fraction of the image area.
        ratio: Range of the crop's aspect ratio (W / H).
        interpolation: Image interpolation.
        backend: Image resize backend: ``'cv2'`` (default) or ``'pillow'`` (antialiased,
            as torchvision's ``RandomResizedCrop`` on PIL images in the official SAK
            stage 1; see :func:`resize_image`).
    """

    def __init__(self, size: Union[int, Sequence[int]], scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3), interpolation: str = 'bilinear',
                 backend: str = 'cv2') -> None:
        self.size = to_hw(size, 'size')
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        check_resize_args(interpolation, backend)
        self.interpolation = interpolation
        self.backend = backend

    @cache_randomness
    def _random_box(self, h: int, w: int) -> Tuple[int, int, int, int]:
        return random_resized_box(np.random, h, w, self.scale, self.ratio)

    def transform(self, results: dict) -> dict:
        """Crop and resize (see the class docstring)."""
        h, w = results['img'].shape[:2]
        y0, x0, ch, cw = self._random_box(h, w)
        crop_results(results, y0, x0, ch, cw)
        return resize_results(results, self.size, self.interpolation, backend=self.backend)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, scale={self.scale}, ratio={self.ratio}, '
                f'backend={self.backend!r})')

