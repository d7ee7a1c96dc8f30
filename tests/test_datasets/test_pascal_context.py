"""PASCALContextDataset: reading the standard layout, and clear errors on bad input."""
import json
import os

import numpy as np
import pytest
import scipy.io as sio
from PIL import Image

from sakbox.datasets import AnnotationError, PASCALContextDataset
from sakbox.datasets.class_names import HUMAN_PART_GROUPS
from sakbox.datasets.synthetic import PART_NAMES, render_sample

from .conftest import TEST_PIPELINE

TASKS = ('semseg', 'normals', 'edge', 'human_parts', 'sal')  # canonical order


def _ids(root, split='train'):
    return open(root / 'ImageSets/Context' / f'{split}.txt').read().split()


def _person_ids(root, split='train'):
    cats = json.load(open(root / 'ImageSets/Parts' / f'{split}.txt'))
    return [i for i in _ids(root, split) if 15 in cats[i]]


def _build(root, **kw):
    # serialize_data=False skips MMEngine's gc.collect(), which dominates a tiny dataset.
    return PASCALContextDataset(data_root=str(root), pipeline=TEST_PIPELINE,
                                serialize_data=False, **kw)


def test_reads_every_task_per_the_contract(pascal_root):
    ds = _build(pascal_root)
    assert ds.metainfo['tasks'] == TASKS and len(ds.metainfo['classes']) == 21
    assert len(ds.metainfo['human_parts_classes']) == 7
    ctx = json.load(open(pascal_root / 'json/context_classes.json'))
    for idx, img_id in enumerate(_ids(pascal_root)):
        sample = ds[idx]['data_samples']
        assert sample.img_id == img_id and sample.gt_tasks == list(TASKS)
        semseg = np.asarray(Image.open(pascal_root / f'semseg/pascal-context/{img_id}.png'))
        np.testing.assert_array_equal(sample.gt_semseg.data[0].numpy(), semseg)
        sal = np.asarray(Image.open(pascal_root / f'sal_distill/{img_id}.png'))
        np.testing.assert_array_equal(sample.gt_sal.data[0].numpy(), sal > 127)
        label_map = sio.loadmat(pascal_root / f'pascal-context/trainval/{img_id}.mat')['LabelMap']
        normals = sample.gt_normals.data.permute(1, 2, 0).numpy()
        invalid = np.linalg.norm(normals, axis=-1) == 0
        # pottedplant is not an NYU class; tvmonitor is added by hand like in the reference.
        np.testing.assert_array_equal(invalid, label_map == ctx['pottedplant'])
        edge = sample.gt_edge.data[0].numpy().astype(bool)
        boundary = np.zeros_like(edge)
        boundary[:, 1:] |= label_map[:, 1:] != label_map[:, :-1]
        boundary[:, :-1] |= label_map[:, 1:] != label_map[:, :-1]
        boundary[1:] |= label_map[1:] != label_map[:-1]
        boundary[:-1] |= label_map[1:] != label_map[:-1]
        assert not (edge & ~boundary).any()
        assert edge[boundary].mean() > 0.3


def test_human_parts_grouping(pascal_root):
    ds = _build(pascal_root, tasks=['human_parts'], images_with_parts_only=False)
    persons = _person_ids(pascal_root)
    assert persons and len(persons) < 4
    for idx, img_id in enumerate(_ids(pascal_root)):
        parts = ds[idx]['data_samples'].gt_human_parts.data[0].numpy()
        if img_id not in persons:
            assert (parts == 255).all()  # no annotated people: ignore the whole map
            continue
        m = render_sample('pascal', 48, 64, seed=3, index=idx)
        expected = np.zeros((48, 64), np.uint8)
        for p, name in enumerate(PART_NAMES, 1):
            expected[m['part'] == p] = HUMAN_PART_GROUPS[name]
        np.testing.assert_array_equal(parts, expected)
        assert set(np.unique(parts)) <= set(range(7))


@pytest.mark.parametrize('with_cache', [True, False])
def test_parts_only_keeps_images_with_people(pascal_copy, with_cache):
    if not with_cache:
        os.remove(pascal_copy / 'ImageSets/Parts/train.txt')
    ds = _build(pascal_copy, tasks=['human_parts'])
    assert ds.get_img_ids() == _person_ids(pascal_copy) if with_cache else len(ds) >= 1
    assert len(_build(pascal_copy, tasks=['human_parts', 'sal'])) == 4


def test_voc12_labels_take_precedence(pascal_copy):
    img_id = _ids(pascal_copy)[0]
    os.makedirs(pascal_copy / 'semseg/VOC12')
    Image.fromarray(np.full((48, 64), 7, np.uint8)).save(pascal_copy / f'semseg/VOC12/{img_id}.png')
    sample = _build(pascal_copy, tasks=['semseg'])[0]['data_samples']
    assert (sample.gt_semseg.data == 7).all()


def _first(root, pattern):
    return root / pattern.format(_ids(root)[0])


BAD = {
    'label map .mat without LabelMap': (
        lambda r: sio.savemat(_first(r, 'pascal-context/trainval/{}.mat'),
                              {'labels': np.zeros((48, 64))}), ['edge'], AnnotationError,
        r"trainval/2008_\d+\.mat: no variable 'LabelMap' in the \.mat file \(found \['labels'\]\)"),
    'parts .mat without anno': (
        lambda r: sio.savemat(_first(r, 'human_parts/{}.mat'), {'x': np.zeros(3)}),
        ['human_parts'], AnnotationError, r"human_parts/2008_\d+\.mat: no variable 'anno'"),
    'corrupt .mat': (lambda r: open(_first(r, 'human_parts/{}.mat'), 'wb').write(b'garbage'),
                     ['human_parts'], AnnotationError, r'cannot read .*human_parts/2008_\d+'),
    'corrupt jpg': (lambda r: open(_first(r, 'JPEGImages/{}.jpg'), 'wb').write(b'\xff\xd8junk'),
                    ['sal'], Exception, r'JPEGImages/2008_\d+\.jpg'),
    'truncated jpg': (lambda r: open(_first(r, 'JPEGImages/{}.jpg'), 'r+b').truncate(300),
                      ['sal'], Exception, r'JPEGImages/2008_\d+\.jpg'),
    'semseg label outside class range': (
        lambda r: Image.fromarray(np.full((48, 64), 21, np.uint8)).save(
            _first(r, 'semseg/pascal-context/{}.png')), ['semseg'], AnnotationError,
        r'label values \[21\] are outside the class range; expected 0\.\.20 or 255'),
    'sal shape differs': (
        lambda r: Image.fromarray(np.zeros((48, 65), np.uint8)).save(
            _first(r, 'sal_distill/{}.png')), ['sal'], AnnotationError,
        r'sal map is 48x65 but image'),
}


@pytest.mark.parametrize('name', sorted(BAD))
def test_bad_input_detected_at_load(pascal_copy, name):
    mutate, tasks, exc, pattern = BAD[name]
    mutate(pascal_copy)
    ds = _build(pascal_copy, tasks=tasks, images_with_parts_only=False)
    ds[1]
    with pytest.raises(exc, match=pattern):
        ds[0]


@pytest.mark.parametrize('missing', ['json/nyu_classes.json', 'json/context_classes.json'])
def test_normals_need_the_class_tables(pascal_copy, missing):
    os.remove(pascal_copy / missing)
    with pytest.raises(FileNotFoundError, match=missing):
        _build(pascal_copy, tasks=['normals'])
    assert len(_build(pascal_copy, tasks=['semseg'])) == 4


def test_missing_task_file_names_id_and_task(pascal_copy):
    os.remove(_first(pascal_copy, 'sal_distill/{}.png'))
    with pytest.raises(FileNotFoundError, match=r"id '2008_\d+' \(sal\)"):
        _build(pascal_copy)
