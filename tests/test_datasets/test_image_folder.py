"""ImageFolderDataset: class-folder tree, flat folder, list file."""
import os

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate

from sakbox.datasets import ImageFolderDataset


def _build(**kw):
    # serialize_data=False skips MMEngine's gc.collect(), which dominates a tiny dataset.
    return ImageFolderDataset(serialize_data=False, **kw)


PIPE = [dict(type='LoadImageFromFile'), dict(type='RandomResizedCrop', size=(16, 24)),
        dict(type='MultiTaskRandomFlip', prob=0.5), dict(type='PackMultiTaskInputs')]


def _img(path, value=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), np.full((20, 30, 3), value, np.uint8))


@pytest.fixture
def tree(tmp_path):
    for cls, names in (('n01', ['a.jpg', 'b.JPEG']), ('n02', ['c.png']), ('n03', [])):
        os.makedirs(tmp_path / 'train' / cls, exist_ok=True)
        for n in names:
            _img(tmp_path / 'train' / cls / n)
    (tmp_path / 'train' / 'n01' / 'notes.txt').write_text('not an image')
    return tmp_path


def test_class_folder_tree(tree):
    ds = _build(data_root=str(tree), data_prefix=dict(img_path='train'),
                            pipeline=PIPE)
    assert ds.metainfo['classes'] == ('n01', 'n02', 'n03')
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [(i['img_id'], i['gt_label']) for i in infos] == [
        ('n01/a', 0), ('n01/b', 0), ('n02/c', 1)]
    batch = default_collate([ds[i] for i in range(3)])
    assert batch['inputs'].shape == (3, 3, 16, 24) and batch['inputs'].dtype == torch.uint8
    assert [s.gt_label for s in batch['data_samples']] == [0, 0, 1]


def test_flat_folder_is_unlabelled(tmp_path):
    for n in ('x.png', 'y.jpg'):
        _img(tmp_path / 'imgs' / n)
    ds = _build(data_root=str(tmp_path), data_prefix=dict(img_path='imgs'),
                            pipeline=PIPE)
    assert len(ds) == 2 and 'gt_label' not in ds.get_data_info(0)
    assert 'gt_label' not in ds[0]['data_samples'].metainfo


def test_list_file_with_bare_ids(tmp_path):
    for n in ('000001.png', '000002.png'):
        _img(tmp_path / 'images' / n)
    (tmp_path / 'list.txt').write_text('000001\n\n000002.png\n')
    ds = _build(data_root=str(tmp_path), data_prefix=dict(img_path='images'),
                            ann_file='list.txt', img_suffix='.png', pipeline=PIPE)
    assert [ds.get_data_info(i)['img_id'] for i in range(2)] == ['000001', '000002']
    assert ds[1]['inputs'].shape == (3, 16, 24)


def test_list_file_with_labels(tmp_path):
    (tmp_path / 'list.txt').write_text('a.jpg 3\nb.jpg 5\n')
    ds = _build(data_root=str(tmp_path), ann_file='list.txt')
    assert [ds.get_data_info(i)['gt_label'] for i in range(2)] == [3, 5]


@pytest.mark.parametrize('content,pattern', [
    ('a.jpg x\n', r"list\.txt:1: label 'x' is not an integer"),
    ('a.jpg 1 2\n', r'list\.txt:1: expected "path \[label\]"'),
    ('\n', r'no images found in .*list\.txt')])
def test_bad_list_files(tmp_path, content, pattern):
    (tmp_path / 'list.txt').write_text(content)
    with pytest.raises(ValueError, match=pattern):
        _build(data_root=str(tmp_path), ann_file='list.txt')


def test_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='image folder not found: .*nope'):
        _build(data_root=str(tmp_path), data_prefix=dict(img_path='nope'))
    os.makedirs(tmp_path / 'empty')
    with pytest.raises(ValueError, match='no images found in .*empty'):
        _build(data_root=str(tmp_path), data_prefix=dict(img_path='empty'))
    with pytest.raises(FileNotFoundError, match='list file not found'):
        _build(data_root=str(tmp_path), ann_file='missing.txt')
    with pytest.raises(ValueError, match='with_label=True'):
        _img(tmp_path / 'flat' / 'a.png')
        _build(data_root=str(tmp_path), data_prefix=dict(img_path='flat'),
                           with_label=True)


def test_tree_with_loose_images_is_ambiguous(tree):
    _img(tree / 'train' / 'loose.jpg')
    with pytest.raises(ValueError, match="mixes class sub-folders with loose images"):
        _build(data_root=str(tree), data_prefix=dict(img_path='train'))


def test_corrupt_image_names_the_file(tmp_path):
    _img(tmp_path / 'imgs' / 'a.png')
    (tmp_path / 'imgs' / 'b.png').write_bytes(b'garbage')
    ds = _build(data_root=str(tmp_path), data_prefix=dict(img_path='imgs'),
                            pipeline=PIPE, test_mode=True)
    with pytest.raises(Exception, match=r'b\.png'):
        ds[1]
