"""AddIgnoreRegions and PackMultiTaskInputs (the data contract of docs/architecture.md)."""
import numpy as np
import pytest
import torch

from sakbox.datasets.transforms import AddIgnoreRegions, PackMultiTaskInputs
from sakbox.structures import MultiTaskDataSample

from ..conftest import coordinate_sample

H, W = 24, 36


def test_pack_dtypes_and_shapes():
    out = PackMultiTaskInputs()(coordinate_sample(H, W))
    assert set(out) == {'inputs', 'data_samples'}
    inputs, sample = out['inputs'], out['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, H, W)
    assert inputs.is_contiguous()
    assert isinstance(sample, MultiTaskDataSample)
    expected = dict(semseg=(1, torch.int64), human_parts=(1, torch.int64),
                    edge=(1, torch.int64), sal=(1, torch.int64), depth=(1, torch.float32),
                    normals=(3, torch.float32))
    assert sorted(sample.gt_tasks) == sorted(expected)
    for task, (c, dtype) in expected.items():
        data = sample.get_gt(task).data
        assert data.shape == (c, H, W) and data.dtype == dtype, task
    src = coordinate_sample(H, W)
    np.testing.assert_array_equal(sample.gt_normals.data.permute(1, 2, 0).numpy(),
                                  src['gt_normals'])
    np.testing.assert_array_equal(inputs.permute(1, 2, 0).numpy(), src['img'])
    assert sample.metainfo == dict(img_path='crafted.png', img_id='crafted', ori_shape=(H, W),
                                   img_shape=(H, W), pad_shape=(H, W), pad_offset=(0, 0), flip=False,
                                   flip_direction=None, scale_factor=(1.0, 1.0))


def test_pack_keeps_transform_metainfo_and_labels():
    r = coordinate_sample(H, W, tasks=('depth',))
    r.update(flip=True, flip_direction='horizontal', scale_factor=(2.0, 2.0),
             pad_shape=(32, 48), gt_label=7)
    sample = PackMultiTaskInputs()(r)['data_samples']
    assert sample.flip and sample.flip_direction == 'horizontal'
    assert sample.pad_shape == (32, 48) and sample.scale_factor == (2.0, 2.0)
    assert sample.gt_label == 7 and sample.gt_tasks == ['depth']


def test_pack_detects_misaligned_maps():
    r = coordinate_sample(H, W, tasks=('semseg',))
    r['gt_semseg'] = r['gt_semseg'][:-1]
    with pytest.raises(ValueError, match='gt_semseg .* lost the alignment'):
        PackMultiTaskInputs()(r)


def test_ignore_regions():
    r = coordinate_sample(H, W, tasks=('depth', 'normals', 'human_parts'))
    r['gt_depth'][0, :3] = [0, -1, np.nan]
    r['gt_normals'][1, :2] = [[0, 0, 0], [np.nan, 0, 0]]
    r['gt_human_parts'][:] = 0
    r['gt_human_parts'][:, :4] = 255
    out = AddIgnoreRegions()(r)
    assert (out['gt_depth'][0, :3] == 0).all() and out['gt_depth'].dtype == np.float32
    assert (out['gt_depth'][1:] > 0).all()
    assert (out['gt_normals'][1, :2] == 0).all()
    assert np.isfinite(out['gt_normals']).all()
    assert (out['gt_human_parts'] == 255).all()


def test_ignore_regions_keep_annotated_parts():
    r = coordinate_sample(H, W, tasks=('human_parts',))
    r['gt_human_parts'][:] = 0
    r['gt_human_parts'][5, 5] = 3
    out = AddIgnoreRegions()(r)
    assert out['gt_human_parts'][5, 5] == 3 and (out['gt_human_parts'] != 255).all()
