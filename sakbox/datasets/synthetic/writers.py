"""Write rendered scenes in the exact on-disk layouts of NYUD-v2 and PASCAL-Context.

See ``docs/datasets.md`` for the layouts. Everything a real file holds that a
loader reads (file names, dtypes, value encodings, ``.mat`` variable names and
struct fields, json formats) is reproduced; nothing else is.
"""
import json
import os
import os.path as osp
from typing import Dict, List

import cv2
import numpy as np
import scipy.io as sio

from ..class_names import NYU40_CLASSES, VOC_CLASSES
from .scenes import PART_NAMES, SCENE_CLASSES, boundary_map

#: Scene class -> NYU-v2 40-class name.
SCENE_TO_NYU40 = {
    'wall': 'wall', 'floor': 'floor', 'ceiling': 'ceiling', 'cabinet': 'cabinet',
    'table': 'table', 'sofa': 'sofa', 'chair': 'chair', 'box': 'box', 'lamp': 'lamp',
    'sphere_prop': 'otherprop', 'picture': 'picture', 'window': 'window', 'person': 'person',
    'tvmonitor': 'television', 'bottle': 'otherprop', 'pottedplant': 'otherprop',
}
#: Scene class -> PASCAL VOC class (anything else is background).
SCENE_TO_VOC = {'person': 'person', 'chair': 'chair', 'sofa': 'sofa', 'table': 'diningtable',
                'tvmonitor': 'tvmonitor', 'bottle': 'bottle', 'pottedplant': 'pottedplant'}
#: Scene class -> PASCAL-Context (459-class) name.
SCENE_TO_CONTEXT = {
    'wall': 'wall', 'floor': 'floor', 'ceiling': 'ceiling', 'cabinet': 'cabinet',
    'table': 'table', 'sofa': 'sofa', 'chair': 'chair', 'box': 'box', 'lamp': 'light',
    'sphere_prop': 'ball', 'picture': 'picture', 'window': 'window', 'person': 'person',
    'tvmonitor': 'tvmonitor', 'bottle': 'bottle', 'pottedplant': 'pottedplant',
}
#: The subset of the real ``json/context_classes.json`` (name -> 459-class id) in use.
CONTEXT_CLASSES = {'ball': 10, 'bottle': 34, 'box': 37, 'cabinet': 46, 'ceiling': 68,
                   'chair': 72, 'floor': 158, 'light': 232, 'person': 284, 'picture': 287,
                   'pottedplant': 308, 'sofa': 368, 'table': 397, 'tvmonitor': 427,
                   'wall': 440, 'window': 454}
#: The subset of the real ``json/nyu_classes.json`` (name -> NYU raw id) that matters here;
#: like the real file it has no ``tvmonitor`` and no ``pottedplant``.
NYU_RAW_CLASSES = {'ball': 60, 'bottle': 2, 'box': 26, 'cabinet': 3, 'ceiling': 4,
                   'chair': 5, 'floor': 11, 'light': 62, 'person': 331, 'picture': 64,
                   'plant': 82, 'sofa': 83, 'table': 19, 'television': 172, 'unknown': 20,
                   'wall': 21, 'window': 59}
#: ``json/pascal_part.json`` entry of the person class (VOC index 15), real part ids.
PERSON_PART_IDS = {'hair': 10, 'head': 1, 'lear': 4, 'lebrow': 6, 'leye': 2, 'lfoot': 21,
                   'lhand': 15, 'llarm': 13, 'llleg': 19, 'luarm': 14, 'luleg': 20,
                   'mouth': 9, 'neck': 12, 'nose': 8, 'rear': 5, 'rebrow': 7, 'reye': 3,
                   'rfoot': 24, 'rhand': 18, 'rlarm': 16, 'rlleg': 22, 'ruarm': 17,
                   'ruleg': 23, 'torso': 11}


def _lut(mapping: Dict[str, str], names, default: int) -> np.ndarray:
    """Look-up table from scene class index to a dataset label."""
    index = {n: i for i, n in enumerate(names)}
    return np.array([index[mapping[c]] if c in mapping else default for c in SCENE_CLASSES])


#: Scene class index -> NYU png value (40-class index + 1).
NYU_LUT = _lut(SCENE_TO_NYU40, NYU40_CLASSES, -1) + 1
#: Scene class index -> VOC label (0 = background).
VOC_LUT = _lut(SCENE_TO_VOC, VOC_CLASSES, 0)
#: Scene class index -> PASCAL-Context 459-class id.
CONTEXT_LUT = np.array([CONTEXT_CLASSES[SCENE_TO_CONTEXT[c]] for c in SCENE_CLASSES])


def _mkdirs(root: str, dirs: List[str]) -> None:
    for d in dirs:
        os.makedirs(osp.join(root, d), exist_ok=True)


def _write_png(path: str, arr: np.ndarray) -> None:
    """Write a (H, W) or RGB (H, W, 3) uint8 array as PNG."""
    if arr.ndim == 3:
        arr = arr[..., ::-1]  # OpenCV writes BGR
    if not cv2.imwrite(path, np.ascontiguousarray(arr)):
        raise OSError(f'could not write {path}')


def encode_normals(normals: np.ndarray) -> np.ndarray:
    """Map unit normals (H, W, 3) in [-1, 1] to RGB uint8 as the datasets store them."""
    return np.clip(np.round((normals + 1.0) * 127.5), 0, 255).astype(np.uint8)


class NYUDWriter:
    """Writes samples in the NYUD-v2 layout under ``root``."""

    dirs = ['images', 'segmentation', 'depth', 'normals', 'edge', 'gt_sets']

    def __init__(self, root: str) -> None:
        self.root = root
        _mkdirs(root, self.dirs)

    def write(self, img_id: str, maps: dict) -> None:
        """Write one rendered sample (see :func:`.scenes.render_scene`)."""
        r = self.root
        labels = NYU_LUT[maps['cls']].astype(np.uint8)
        _write_png(osp.join(r, 'images', img_id + '.png'), maps['image'])
        _write_png(osp.join(r, 'segmentation', img_id + '.png'), labels)
        np.save(osp.join(r, 'depth', img_id + '.npy'), maps['depth'].astype(np.float32))
        _write_png(osp.join(r, 'normals', img_id + '.png'), encode_normals(maps['normals']))
        edge = boundary_map(labels, maps['instance'], maps['depth'])
        _write_png(osp.join(r, 'edge', img_id + '.png'), edge * 255)

    def finish(self, splits: Dict[str, List[str]]) -> None:
        """Write the split files."""
        for split, ids in splits.items():
            with open(osp.join(self.root, 'gt_sets', split + '.txt'), 'w') as f:
                f.write(''.join(i + '\n' for i in ids))


class PASCALContextWriter:
    """Writes samples in the PASCAL-Context (multi-task) layout under ``root``."""

    dirs = ['JPEGImages', 'semseg/pascal-context', 'human_parts', 'sal_distill',
            'normals_distill', 'pascal-context/trainval', 'json', 'ImageSets/Context',
            'ImageSets/Parts']

    def __init__(self, root: str) -> None:
        self.root = root
        _mkdirs(root, self.dirs)
        self.objects: Dict[str, List[int]] = {}

    def write(self, img_id: str, maps: dict) -> None:
        """Write one rendered sample (see :func:`.scenes.render_scene`)."""
        r = self.root
        voc = VOC_LUT[maps['cls']].astype(np.uint8)
        ok = cv2.imwrite(osp.join(r, 'JPEGImages', img_id + '.jpg'),
                         np.ascontiguousarray(maps['image'][..., ::-1]),
                         [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise OSError(f'could not write {img_id}.jpg under {r}')
        _write_png(osp.join(r, 'semseg', 'pascal-context', img_id + '.png'), voc)
        _write_png(osp.join(r, 'sal_distill', img_id + '.png'), (voc > 0).astype(np.uint8) * 255)
        _write_png(osp.join(r, 'normals_distill', img_id + '.png'),
                   encode_normals(maps['normals']))
        label_map = CONTEXT_LUT[maps['cls']].astype(np.uint16)
        sio.savemat(osp.join(r, 'pascal-context', 'trainval', img_id + '.mat'),
                    {'LabelMap': label_map}, do_compression=True)
        self._write_parts(img_id, maps, voc)

    def _write_parts(self, img_id: str, maps: dict, voc: np.ndarray) -> None:
        """PASCAL-Part style ``anno`` struct: imname + objects(class, class_ind, mask, parts)."""
        objects, cat_ids = [], []
        for inst in np.unique(maps['instance'][voc > 0]):
            mask = maps['instance'] == inst
            cls_ind = int(voc[mask][0])
            parts = np.zeros((0, 0))  # what loadmat gives for an object without parts
            if VOC_CLASSES[cls_ind] == 'person':
                names = [(PART_NAMES[p - 1], maps['part'] == p)
                         for p in np.unique(maps['part'][mask]) if p > 0]
                parts = np.zeros((1, len(names)), dtype=[('part_name', 'O'), ('mask', 'O')])
                for j, (name, pmask) in enumerate(names):
                    parts[0, j] = (name, (pmask & mask).astype(np.uint8))
            objects.append((VOC_CLASSES[cls_ind], np.array([[cls_ind]], dtype=np.uint8),
                            mask.astype(np.uint8), parts))
            cat_ids.append(cls_ind)
        objs = np.zeros((1, len(objects)),
                        dtype=[('class', 'O'), ('class_ind', 'O'), ('mask', 'O'), ('parts', 'O')])
        for j, obj in enumerate(objects):
            objs[0, j] = obj
        anno = np.zeros((1, 1), dtype=[('imname', 'O'), ('objects', 'O')])
        anno[0, 0] = (img_id, objs)
        sio.savemat(osp.join(self.root, 'human_parts', img_id + '.mat'), {'anno': anno},
                    do_compression=True)
        self.objects[img_id] = cat_ids

    def finish(self, splits: Dict[str, List[str]]) -> None:
        """Write split files, the per-split object-category cache and the json files."""
        for split, ids in splits.items():
            with open(osp.join(self.root, 'ImageSets', 'Context', split + '.txt'), 'w') as f:
                f.write(''.join(i + '\n' for i in ids))
            with open(osp.join(self.root, 'ImageSets', 'Parts', split + '.txt'), 'w') as f:
                json.dump({i: self.objects[i] for i in ids}, f)
        jdir = osp.join(self.root, 'json')
        with open(osp.join(jdir, 'context_classes.json'), 'w') as f:
            json.dump(CONTEXT_CLASSES, f)
        with open(osp.join(jdir, 'nyu_classes.json'), 'w') as f:
            json.dump(NYU_RAW_CLASSES, f)
        with open(osp.join(jdir, 'pascal_part.json'), 'w') as f:
            json.dump({'15': PERSON_PART_IDS}, f)


WRITERS = {'nyud': NYUDWriter, 'pascal': PASCALContextWriter}
