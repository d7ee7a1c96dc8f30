"""Photometric augmentation (image only; task maps are untouched)."""
from typing import Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from ...registry import TRANSFORMS


@TRANSFORMS.register_module()
class MultiTaskPhotoMetricDistortion(BaseTransform):
    """Random brightness, contrast, saturation and hue, each applied with probability 0.5.

    Order: brightness, contrast (either here or last, 50/50), saturation, hue,
    contrast. Matches the reference multi-task pipeline and mmseg; works on
    the uint8 BGR image and keeps it uint8.

    Args:
        brightness_delta: Largest brightness shift (0-255 scale).
        contrast_range: Range of the contrast gain.
        saturation_range: Range of the saturation gain.
        hue_delta: Largest hue shift (OpenCV hue units, 0-180).
    """

    def __init__(self, brightness_delta: int = 32, contrast_range: Sequence[float] = (0.5, 1.5),
                 saturation_range: Sequence[float] = (0.5, 1.5), hue_delta: int = 18) -> None:
        self.brightness_delta = brightness_delta
        self.contrast_range = tuple(contrast_range)
        self.saturation_range = tuple(saturation_range)
        self.hue_delta = hue_delta

    @staticmethod
    def _convert(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
        return np.clip(img.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)

    def transform(self, results: dict) -> dict:
        """Distort ``results['img']``.

        Args:
            results: Pipeline results.

        Returns:
            dict: ``results`` with the new image.
        """
        img = results['img']
        if img.dtype != np.uint8:
            raise TypeError(f'MultiTaskPhotoMetricDistortion expects a uint8 image, got {img.dtype} '
                            f'({results.get("img_path")})')
        rand = np.random.rand
        if rand() < 0.5:
            img = self._convert(img, beta=np.random.uniform(-self.brightness_delta,
                                                            self.brightness_delta))
        contrast_first = rand() < 0.5
        if contrast_first and rand() < 0.5:
            img = self._convert(img, alpha=np.random.uniform(*self.contrast_range))
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        if rand() < 0.5:
            hsv[..., 1] = self._convert(hsv[..., 1],
                                        alpha=np.random.uniform(*self.saturation_range))
        if rand() < 0.5:
            shift = np.random.randint(-self.hue_delta, self.hue_delta)
            hsv[..., 0] = (hsv[..., 0].astype(np.int16) + shift) % 180
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        if not contrast_first and rand() < 0.5:
            img = self._convert(img, alpha=np.random.uniform(*self.contrast_range))
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(brightness_delta={self.brightness_delta}, '
                f'contrast_range={self.contrast_range}, '
                f'saturation_range={self.saturation_range}, hue_delta={self.hue_delta})')
