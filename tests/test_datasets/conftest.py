"""Tiny synthetic datasets shared by the data tests (generated once per session)."""
import shutil

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from sakbox.datasets.synthetic import generate_synthetic_dataset

SIZE = (48, 64)
#: The evaluation pipeline of the dataset configs.
TEST_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadMultiTaskAnnotations'),
                 dict(type='AddIgnoreRegions'), dict(type='PackMultiTaskInputs')]


@pytest.fixture(autouse=True)
def sakbox_scope():
    """Configs name sakbox transforms without a scope prefix, as real configs do."""
    init_default_scope('sakbox')


@pytest.fixture(scope='session')
def nyud_root(tmp_path_factory):
    """A 4 train / 2 val synthetic NYUD-v2 dataset (read-only: copy before editing)."""
    root = tmp_path_factory.mktemp('data') / 'nyud'
    generate_synthetic_dataset('nyud', str(root), num_train=4, num_val=2, size=SIZE, seed=3)
    return root


@pytest.fixture(scope='session')
def pascal_root(tmp_path_factory):
    """A 4 train / 2 val synthetic PASCAL-Context dataset (read-only: copy before editing)."""
    root = tmp_path_factory.mktemp('data') / 'pascal'
    generate_synthetic_dataset('pascal', str(root), num_train=4, num_val=2, size=SIZE, seed=3)
    return root


@pytest.fixture
def nyud_copy(nyud_root, tmp_path):
    """A private copy of the NYUD-v2 fixture that a test may break."""
    return shutil.copytree(nyud_root, tmp_path / 'nyud')


@pytest.fixture
def pascal_copy(pascal_root, tmp_path):
    """A private copy of the PASCAL-Context fixture that a test may break."""
    return shutil.copytree(pascal_root, tmp_path / 'pascal')


def coordinate_sample(h: int = 24, w: int = 36, tasks=('semseg', 'human_parts', 'edge', 'sal',
                                                       'depth', 'normals')) -> dict:
    """Pipeline results whose maps all encode the pixel's source coordinates.

    ``pid = y * w + x``: semseg = pid % 251, human_parts = pid // 251, depth = pid + 1,
    normals = (x, y, 1) / 100, edge = x % 2, sal = y % 2, and the image holds x and y in
    its first two channels (for sizes below 256). After a pure crop/flip/pad every map
    must still decode to one consistent source pixel.
    """
    y, x = np.mgrid[0:h, 0:w]
    pid = y * w + x
    maps = dict(semseg=(pid % 251).astype(np.uint8), human_parts=(pid // 251).astype(np.uint8),
                edge=(x % 2).astype(np.uint8), sal=(y % 2).astype(np.uint8),
                depth=(pid + 1).astype(np.float32),
                normals=np.stack([x, y, np.full_like(x, 100)], -1).astype(np.float32) / 100)
    results = dict(img=np.stack([x, y, np.full_like(x, 7)], -1).astype(np.uint8),
                   img_shape=(h, w), ori_shape=(h, w), img_path='crafted.png',
                   img_id='crafted', task_fields=list(tasks))
    for t in tasks:
        results[f'gt_{t}'] = maps[t]
    return results


def decode_pid(results: dict) -> np.ndarray:
    """Source pixel id of every output pixel, from semseg + human_parts."""
    return results['gt_human_parts'].astype(np.int64) * 251 + results['gt_semseg']
