"""NYUDv2Dataset: reading the standard layout, and clear errors on bad input."""
import os

import numpy as np
import pytest
from PIL import Image

from sakbox.datasets import AnnotationError, NYUDv2Dataset
from sakbox.registry import DATASETS

from .conftest import TEST_PIPELINE


def _build(root, **kw):
    # serialize_data=False skips MMEngine's gc.collect(), which dominates a tiny dataset.
    kw.setdefault('pipeline', TEST_PIPELINE)
    return NYUDv2Dataset(data_root=str(root), serialize_data=False, **kw)


def _ids(root, split='train'):
    return open(root / 'gt_sets' / f'{split}.txt').read().split()


def test_reads_every_task_per_the_contract(nyud_root):
    ds = _build(nyud_root)
    assert len(ds) == 4 and ds.metainfo['tasks'] == ('semseg', 'depth', 'normals', 'edge')
    assert len(ds.metainfo['classes']) == 40 and len(ds.metainfo['palette']) == 40
    assert ds.metainfo['task_channels'] == dict(semseg=40, depth=1, normals=3, edge=1)
    out = ds[1]
    img_id = _ids(nyud_root)[1]
    sample = out['data_samples']
    assert sample.img_id == img_id and sample.ori_shape == (48, 64)
    rgb = np.asarray(Image.open(nyud_root / 'images' / f'{img_id}.png'))
    assert out['inputs'].dtype == np.uint8 or str(out['inputs'].dtype) == 'torch.uint8'
    np.testing.assert_array_equal(out['inputs'].permute(1, 2, 0).numpy(), rgb[..., ::-1])  # BGR
    raw = np.asarray(Image.open(nyud_root / 'segmentation' / f'{img_id}.png')).astype(int)
    np.testing.assert_array_equal(sample.gt_semseg.data[0].numpy(),
                                  np.where(raw == 0, 255, raw - 1))
    np.testing.assert_array_equal(sample.gt_depth.data[0].numpy(),
                                  np.load(nyud_root / 'depth' / f'{img_id}.npy'))
    raw_n = np.asarray(Image.open(nyud_root / 'normals' / f'{img_id}.png')).astype(np.float32)
    np.testing.assert_allclose(sample.gt_normals.data.permute(1, 2, 0).numpy(),
                               raw_n * 2 / 255 - 1, atol=1e-6)
    raw_e = np.asarray(Image.open(nyud_root / 'edge' / f'{img_id}.png'))
    np.testing.assert_array_equal(sample.gt_edge.data[0].numpy(), raw_e // 255)
    assert set(np.unique(raw_e)) <= {0, 255}


@pytest.mark.parametrize('tasks', [['depth'], ['edge', 'semseg'], ['normals']])
def test_task_selection(nyud_root, tasks):
    ds = DATASETS.build(dict(type='NYUDv2Dataset', data_root=str(nyud_root), tasks=tasks,
                             ann_file='gt_sets/val.txt', pipeline=TEST_PIPELINE,
                             test_mode=True, serialize_data=False))
    assert len(ds) == 2
    assert ds[0]['data_samples'].gt_tasks == [t for t in ('semseg', 'depth', 'normals', 'edge')
                                               if t in tasks]


def test_unknown_task(nyud_root):
    with pytest.raises(ValueError, match='human_parts'):
        _build(nyud_root, tasks=['semseg', 'human_parts'])


def _write(path, data: bytes):
    with open(path, 'wb') as f:
        f.write(data)


def _truncate(path):
    data = open(path, 'rb').read()
    _write(path, data[:len(data) // 2])


def _first(root, pattern):
    return root / pattern.format(_ids(root)[0])


BAD_AT_INIT = {
    'missing split file': (lambda r: os.remove(r / 'gt_sets/train.txt'), FileNotFoundError,
                           r'split file not found: .*gt_sets/train\.txt'),
    'empty split': (lambda r: _write(r / 'gt_sets/train.txt', b'\n\n'), ValueError,
                    r'gt_sets/train\.txt lists no image ids'),
    'task file missing': (lambda r: os.remove(_first(r, 'depth/{}.npy')), FileNotFoundError,
                          r"id '\d+' \(depth\): .*depth/\d+\.npy"),
    'image missing': (lambda r: os.remove(_first(r, 'images/{}.png')), FileNotFoundError,
                      r"id '\d+' \(image\): .*images/\d+\.png"),
}


@pytest.mark.parametrize('name', sorted(BAD_AT_INIT))
def test_bad_input_detected_at_start(nyud_copy, name):
    mutate, exc, pattern = BAD_AT_INIT[name]
    mutate(nyud_copy)
    with pytest.raises(exc, match=pattern):
        _build(nyud_copy)


def _save_png(path, arr):
    Image.fromarray(arr).save(path)


BAD_AT_LOAD = {
    'corrupt image png': (lambda r: _write(_first(r, 'images/{}.png'), b'not a png' * 9),
                          Exception, r'images/\d+\.png'),
    'truncated image png': (lambda r: _truncate(_first(r, 'images/{}.png')), Exception,
                            r'images/\d+\.png'),
    'corrupt label png': (lambda r: _write(_first(r, 'segmentation/{}.png'), b'\x89PNG junk'),
                          AnnotationError, r'cannot decode .*segmentation/\d+\.png'),
    'truncated normals png': (lambda r: _truncate(_first(r, 'normals/{}.png')), AnnotationError,
                              r'cannot decode .*normals/\d+\.png'),
    'truncated npy': (lambda r: _truncate(_first(r, 'depth/{}.npy')), AnnotationError,
                      r'cannot read depth .*depth/\d+\.npy'),
    'wrong-dtype npy': (lambda r: np.save(_first(r, 'depth/{}.npy'),
                                          np.ones((48, 64), np.int32)),
                        AnnotationError, r'depth/\d+\.npy: depth must be float32.*int32'),
    'nan in depth': (lambda r: np.save(_first(r, 'depth/{}.npy'),
                                       np.full((48, 64), np.nan, np.float32)),
                     AnnotationError, r'depth/\d+\.npy: depth holds 3072 NaN/inf'),
    'inf in depth': (lambda r: np.save(_first(r, 'depth/{}.npy'),
                                       np.full((48, 64), np.inf, np.float32)),
                     AnnotationError, r'NaN/inf'),
    'label outside class range': (
        lambda r: _save_png(_first(r, 'segmentation/{}.png'), np.full((48, 64), 41, np.uint8)),
        AnnotationError, r'segmentation/\d+\.png: label values \[41\] are outside'),
    'label shape differs': (
        lambda r: _save_png(_first(r, 'segmentation/{}.png'), np.ones((40, 64), np.uint8)),
        AnnotationError, r'semseg map is 40x64 but image .* is 48x64'),
    'depth shape differs': (lambda r: np.save(_first(r, 'depth/{}.npy'),
                                              np.ones((48, 60), np.float32)),
                            AnnotationError, r'depth map is 48x60 but image'),
    'normals not rgb': (
        lambda r: _save_png(_first(r, 'normals/{}.png'), np.ones((48, 64), np.uint8)),
        AnnotationError, r'normals/\d+\.png: normals must be an RGB image'),
}


@pytest.mark.parametrize('name', sorted(BAD_AT_LOAD))
def test_bad_input_detected_at_load(nyud_copy, name):
    mutate, exc, pattern = BAD_AT_LOAD[name]
    mutate(nyud_copy)
    ds = _build(nyud_copy)
    ds[1]  # untouched samples still load
    with pytest.raises(exc, match=pattern):
        ds[0]


def test_void_and_ignore_values_decode(nyud_copy):
    path = _first(nyud_copy, 'segmentation/{}.png')
    seg = np.asarray(Image.open(path)).copy()
    seg[:4] = 0
    seg[4:8] = 255
    seg[8:12] = 40
    _save_png(path, seg)
    sample = _build(nyud_copy)[0]['data_samples']
    got = sample.gt_semseg.data[0].numpy()
    assert (got[:8] == 255).all() and (got[8:12] == 39).all()


def test_missing_file_without_start_check_names_the_file(nyud_copy):
    os.remove(_first(nyud_copy, 'edge/{}.png'))
    ds = _build(nyud_copy, check_files=False)
    with pytest.raises(FileNotFoundError, match=r'edge/\d+\.png'):
        ds[0]
