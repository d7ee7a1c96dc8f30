"""Synthetic indoor scenes with consistent multi-task ground truth.

Small rooms (floor, walls, ceiling) with furniture and people are ray-cast in
numpy with a pinhole camera that has NYU-like intrinsics; image, metric depth,
camera-frame normals, semantic/part labels, boundaries and saliency all come
from the same ray hits. :func:`generate_synthetic_dataset` writes them in the
exact NYUD-v2 or PASCAL-Context layout, so the real loaders read them.
CLI: ``tools/dataset_converters/make_synthetic_scenes.py``.
"""
import time
from typing import Dict, List, Sequence

import numpy as np

from .geometry import backproject, camera_intrinsics, camera_rays
from .scenes import PART_NAMES, SCENE_CLASSES, boundary_map, render_scene, sample_scene
from .writers import VOC_LUT, WRITERS, encode_normals

_SPLIT_CODE = {'train': 0, 'val': 1}
_ID_FORMAT = {'nyud': '{:06d}', 'pascal': '2008_{:06d}'}


def render_sample(layout: str, height: int = 96, width: int = 128, seed: int = 0,
                  index: int = 0, split: str = 'train') -> dict:
    """Render one synthetic sample exactly as the generator does, without writing it.

    Args:
        layout: ``'nyud'`` or ``'pascal'``.
        height: Image height.
        width: Image width.
        seed: Dataset seed.
        index: Sample index inside the split.
        split: ``'train'`` or ``'val'``.

    Returns:
        dict: The maps of :func:`.scenes.render_scene`.
    """
    rng = np.random.default_rng([seed, _SPLIT_CODE[split], index])
    for _ in range(50):
        maps = render_scene(sample_scene(layout, rng), height, width, rng)
        # Every real PASCAL image shows at least one VOC object; redraw until ours does.
        if layout != 'pascal' or (VOC_LUT[maps['cls']] > 0).any():
            return maps
    raise RuntimeError(f'could not draw a {layout} scene with a foreground object')


def generate_synthetic_dataset(layout: str, out_dir: str, num_train: int = 120,
                               num_val: int = 40, size: Sequence[int] = (96, 128),
                               seed: int = 0, verbose: bool = False) -> Dict[str, List[str]]:
    """Render a synthetic dataset into ``out_dir`` in the real on-disk layout.

    Output is a pure function of the arguments (sample ``i`` of a split is
    the same whatever ``num_train``/``num_val`` are).

    Args:
        layout: ``'nyud'`` (NYUD-v2 layout) or ``'pascal'`` (PASCAL-Context layout).
        out_dir: Dataset root to write (created if needed).
        num_train: Number of training samples.
        num_val: Number of validation samples.
        size: (H, W) of the images.
        seed: Random seed.
        verbose: Print progress.

    Returns:
        dict: ``{'train': [ids], 'val': [ids]}``.
    """
    if layout not in WRITERS:
        raise KeyError(f'unknown layout {layout!r}; expected one of {sorted(WRITERS)}')
    height, width = (int(s) for s in size)
    if height < 8 or width < 8:
        raise ValueError(f'size must be at least 8x8, got {size}')
    writer = WRITERS[layout](out_dir)
    splits, start, offset = {}, time.time(), 0
    for split, num in (('train', num_train), ('val', num_val)):
        ids = []
        for i in range(num):
            # Ids stay unique across splits, like the real datasets'.
            img_id = _ID_FORMAT[layout].format(offset + i)
            writer.write(img_id, render_sample(layout, height, width, seed, i, split))
            ids.append(img_id)
        offset += num
        splits[split] = ids
    writer.finish(splits)
    if verbose:
        print(f'wrote {num_train} train + {num_val} val {layout} samples of {height}x{width} '
              f'to {out_dir} in {time.time() - start:.1f} s')
    return splits


__all__ = ['generate_synthetic_dataset', 'render_sample', 'render_scene', 'sample_scene',
           'camera_intrinsics', 'camera_rays', 'backproject', 'boundary_map', 'encode_normals',
           'SCENE_CLASSES', 'PART_NAMES']
