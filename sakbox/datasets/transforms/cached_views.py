"""Deterministic random-resized-crop + flip views, reproducible from a seed.

Offline distillation (``tools/extract_teacher_features.py``) runs the teachers
once on ``K`` fixed views of every image. A view is a function of
``(seed, image index, view index, image size)`` only, so extraction can be
split over processes and resumed, and training can apply exactly the view the
cached features were computed on.
"""
from typing import NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from ...registry import TRANSFORMS
from ...utils.sizes import to_hw
from .geometric import (
    MultiTaskRandomFlip,
    check_resize_args,
    crop_results,
    random_resized_box,
    resize_results,
)


class ViewParams(NamedTuple):
    """One view of one image: a crop box of the original image and a flip.

    Attributes:
        img_h (int): Height of the original image (checked when applied).
        img_w (int): Width of the original image.
        y0 (int): Top row of the crop.
        x0 (int): Left column of the crop.
        crop_h (int): Crop height.
        crop_w (int): Crop width.
        flip (int): 1 for a horizontal flip after the crop, else 0.
    """

    img_h: int
    img_w: int
    y0: int
    x0: int
    crop_h: int
    crop_w: int
    flip: int

    @classmethod
    def from_array(cls, values: Sequence[int]) -> 'ViewParams':
        """Build from 7 integers in field order (a row of a cache's ``views.npy``)."""
        if len(values) != len(cls._fields):
            raise ValueError(f'ViewParams needs {len(cls._fields)} values {cls._fields}, '
                             f'got {len(values)}')
        return cls(*(int(v) for v in values))


def view_rng(seed: int, index: int, view: int) -> np.random.Generator:
    """The generator of view ``view`` of image ``index``; independent of everything else.

    Args:
        seed (int): The view-sampling seed (stored in the cache index).
        index (int): Dataset index of the image.
        view (int): View number in ``[0, K)``.

    Returns:
        np.random.Generator: A PCG64 generator.
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), int(view)]))


def sample_view_params(seed: int, index: int, view: int, img_hw: Tuple[int, int],
                       scale: Sequence[float] = (0.08, 1.0),
                       ratio: Sequence[float] = (3 / 4, 4 / 3),
                       flip_prob: float = 0.5) -> ViewParams:
    """Draw view ``view`` of image ``index`` (a pure function of the arguments).

    Args:
        seed (int): View-sampling seed.
        index (int): Dataset index of the image.
        view (int): View number.
        img_hw (Tuple[int, int]): (H, W) of the loaded image.
        scale (Sequence[float]): Crop area range (fraction of the image).
        ratio (Sequence[float]): Crop aspect-ratio range (W / H).
        flip_prob (float): Probability of a horizontal flip.

    Returns:
        ViewParams: The view.
    """
    h, w = int(img_hw[0]), int(img_hw[1])
    rng = view_rng(seed, index, view)
    y0, x0, ch, cw = random_resized_box(rng, h, w, scale, ratio)
    flip = int(rng.uniform() < flip_prob)
    return ViewParams(h, w, y0, x0, ch, cw, flip)


@TRANSFORMS.register_module()
class SeededViewCrop(BaseTransform):
    """Random-resized crop + horizontal flip whose randomness is a fixed view.

    The replacement of ``RandomResizedCrop`` + ``MultiTaskRandomFlip`` for
    cached (offline) distillation. The view comes from the results:

    * ``results['view_params']`` (a :class:`ViewParams` or 7 integers), set by
      :class:`~sakbox.datasets.TeacherFeatureCacheDataset` from the cache, is
      applied as it is (the image size must match the recorded one);
    * otherwise it is drawn by :func:`sample_view_params` from
      ``(seed, results['sample_idx'], results['view_idx'])`` (feature
      extraction), and stored in ``results['view_params']``.

    Task maps follow the image as in the random transforms (nearest resize,
    depth divided by the zoom, normals' x negated by the flip). Sets ``flip``,
    ``flip_direction`` and ``view_idx`` (when known) in the results.

    Args:
        size (int | Sequence[int]): Output (H, W).
        scale (Sequence[float]): Crop area range. Default: (0.08, 1.0).
        ratio (Sequence[float]): Crop aspect-ratio range (W / H).
        flip_prob (float): Horizontal flip probability. Default: 0.5.
        seed (int): View-sampling seed used when no ``view_params`` are given.
        interpolation (str): Image interpolation.
        backend (str): Image resize backend, ``'cv2'`` or ``'pillow'`` (as
            :class:`RandomResizedCrop`).
    """

    def __init__(self, size: Union[int, Sequence[int]], scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3), flip_prob: float = 0.5,
                 seed: int = 0, interpolation: str = 'bilinear', backend: str = 'cv2') -> None:
        self.size = to_hw(size, 'size')
        self.scale = tuple(float(s) for s in scale)
        self.ratio = tuple(float(r) for r in ratio)
        if not 0.0 <= flip_prob <= 1.0:
            raise ValueError(f'SeededViewCrop: flip_prob must be in [0, 1], got {flip_prob}')
        self.flip_prob = float(flip_prob)
        self.seed = int(seed)
        check_resize_args(interpolation, backend)
        self.interpolation = interpolation
        self.backend = backend
        # Reused for its task-map aware flip only (never for its random choice).
        self._flipper = MultiTaskRandomFlip(prob=1.0)

    def view_config(self) -> dict:
        """The settings a cache records and checks (``index.json`` key ``view``)."""
        view = dict(type=type(self).__name__, size=list(self.size), scale=list(self.scale),
                    ratio=list(self.ratio), flip_prob=self.flip_prob,
                    interpolation=self.interpolation)
        if self.backend != 'cv2':  # caches written before the option stay valid
            view['backend'] = self.backend
        return view

    def _params(self, results: dict, h: int, w: int) -> ViewParams:
        given: Optional[Sequence[int]] = results.get('view_params')
        if given is not None:
            params = given if isinstance(given, ViewParams) else ViewParams.from_array(given)
            if (params.img_h, params.img_w) != (h, w):
                raise ValueError(
                    f'SeededViewCrop: the view was recorded on a {params.img_h}x{params.img_w} '
                    f'image but {results.get("img_path")} loads as {h}x{w}; the image changed '
                    'since the teacher features were extracted')
            return params
        for key in ('sample_idx', 'view_idx'):
            if key not in results:
                raise KeyError(f'SeededViewCrop needs results[{key!r}] (or view_params) to '
                               f'draw a view of {results.get("img_path")}')
        return sample_view_params(self.seed, results['sample_idx'], results['view_idx'],
                                  (h, w), self.scale, self.ratio, self.flip_prob)

    def transform(self, results: dict) -> dict:
        """Crop, resize and maybe flip (see the class docstring).

        Args:
            results (dict): Pipeline results with a loaded ``img``.

        Returns:
            dict: Updated ``results`` with ``view_params``.
        """
        h, w = results['img'].shape[:2]
        params = self._params(results, h, w)
        crop_results(results, params.y0, params.x0, params.crop_h, params.crop_w)
        resize_results(results, self.size, self.interpolation, backend=self.backend)
        results['flip'] = bool(params.flip)
        results['flip_direction'] = 'horizontal' if params.flip else None
        if params.flip:
            self._flipper._flip(results)
        results['view_params'] = params
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, scale={self.scale}, '
                f'ratio={self.ratio}, flip_prob={self.flip_prob}, seed={self.seed})')
