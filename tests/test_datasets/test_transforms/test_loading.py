"""LoadMultiTaskAnnotations: reader dispatch, task selection, size checks."""
import numpy as np
import pytest
from PIL import Image

from sakbox.datasets import AnnotationError
from sakbox.datasets.transforms import LoadMultiTaskAnnotations


@pytest.fixture
def results(tmp_path):
    seg = np.array([[0, 1, 2], [3, 40, 255]], np.uint8)
    Image.fromarray(seg).save(tmp_path / 'seg.png')
    Image.fromarray(np.array([[0, 255, 0], [255, 0, 0]], np.uint8)).save(tmp_path / 'edge.png')
    np.save(tmp_path / 'depth.npy', np.array([[1, 2, 0], [4, 5, 6]], np.float32))
    return dict(img_shape=(2, 3), img_path='x.png', img_id='x', ann_info=dict(
        semseg=dict(reader='label_png', path=str(tmp_path / 'seg.png'), num_classes=40,
                    reduce_zero_label=True),
        edge=dict(reader='binary_png', path=str(tmp_path / 'edge.png')),
        depth=dict(reader='depth_npy', path=str(tmp_path / 'depth.npy'))))


def test_loads_all_tasks(results):
    r = LoadMultiTaskAnnotations()(results)
    assert r['task_fields'] == ['semseg', 'edge', 'depth']
    np.testing.assert_array_equal(r['gt_semseg'], [[255, 0, 1], [2, 39, 255]])
    assert r['gt_semseg'].dtype == np.uint8
    np.testing.assert_array_equal(r['gt_edge'], [[0, 1, 0], [1, 0, 0]])
    assert r['gt_depth'].dtype == np.float32 and r['gt_depth'][0, 2] == 0


@pytest.mark.parametrize('tasks', [['depth'], ['edge', 'semseg']])
def test_task_subset(results, tasks):
    r = LoadMultiTaskAnnotations(tasks=tasks)(results)
    assert r['task_fields'] == tasks
    assert {k for k in r if k.startswith('gt_')} == {f'gt_{t}' for t in tasks}


def test_missing_task_names_the_sample(results):
    with pytest.raises(KeyError, match="sample 'x' has no annotation for task 'normals'"):
        LoadMultiTaskAnnotations(tasks=['normals'])(results)


def test_unknown_reader(results):
    results['ann_info']['depth']['reader'] = 'depth_exr'
    with pytest.raises(KeyError, match="unknown annotation reader 'depth_exr'"):
        LoadMultiTaskAnnotations()(results)


def test_size_mismatch_names_file_and_shapes(results):
    results['img_shape'] = (3, 3)
    with pytest.raises(AnnotationError, match=r'seg\.png: semseg map is 2x3 but image x\.png '
                                              r'is 3x3'):
        LoadMultiTaskAnnotations()(results)
