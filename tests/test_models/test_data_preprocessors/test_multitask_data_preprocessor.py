"""MultiTaskDataPreProcessor: BGR->RGB, normalisation, padding, metainfo; GT untouched."""
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.registry import init_default_scope

from sakbox.models.data_preprocessors import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MultiTaskDataPreProcessor,
)
from sakbox.registry import MODELS
from sakbox.structures import MultiTaskDataSample


def _item(h, w, seed):
    g = torch.Generator().manual_seed(seed)
    img = torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)
    sample = MultiTaskDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
    sample.set_gt('semseg', torch.randint(0, 5, (1, h, w), generator=g))
    sample.set_gt('depth', torch.rand(1, h, w, generator=g))
    return dict(inputs=img, data_samples=sample)


def _reference(img, mean, std, bgr_to_rgb=True):
    x = img.float()
    if bgr_to_rgb:
        x = x.flip(0)
    return (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


@pytest.mark.parametrize('collate', [pseudo_collate, default_collate])
def test_normalise_and_stack_same_size(collate):
    items = [_item(8, 12, s) for s in range(2)]
    pre = MultiTaskDataPreProcessor()
    out = pre(collate(items))
    assert out['inputs'].shape == (2, 3, 8, 12) and out['inputs'].dtype == torch.float32
    for i, item in enumerate(items):
        torch.testing.assert_close(out['inputs'][i],
                                   _reference(item['inputs'], IMAGENET_MEAN, IMAGENET_STD))
    assert [s.batch_input_shape for s in out['data_samples']] == [(8, 12)] * 2


@pytest.mark.parametrize('size_divisor,size,expected', [
    (1, None, (10, 12)), (8, None, (16, 16)), (1, (12, 20), (12, 20)), (32, (12, 20), (32, 32))])
def test_pad_variable_sizes(size_divisor, size, expected):
    items = [_item(8, 12, 0), _item(10, 7, 1)]
    gt_before = [it['data_samples'].gt_semseg.data.clone() for it in items]
    pre = MultiTaskDataPreProcessor(size_divisor=size_divisor, size=size, pad_value=0)
    out = pre(pseudo_collate(items))
    assert out['inputs'].shape == (2, 3, *expected)
    for i, item in enumerate(items):
        h, w = item['inputs'].shape[-2:]
        ref = _reference(item['inputs'], IMAGENET_MEAN, IMAGENET_STD)
        torch.testing.assert_close(out['inputs'][i, :, :h, :w], ref)
        padded = torch.ones(expected, dtype=torch.bool)
        padded[:h, :w] = False
        assert (out['inputs'][i][:, padded] == 0).all()  # pad after normalisation
        sample = out['data_samples'][i]
        assert sample.batch_input_shape == expected and sample.pad_shape == expected
        assert sample.img_shape == (h, w)
        # The ground truth is not padded or changed.
        assert torch.equal(sample.gt_semseg.data, gt_before[i])


def test_options():
    items = [_item(4, 4, 3)]
    raw = MultiTaskDataPreProcessor(mean=None, std=None, bgr_to_rgb=False)(pseudo_collate(items))
    torch.testing.assert_close(raw['inputs'][0], items[0]['inputs'].float())
    custom = MODELS.build(dict(type='MultiTaskDataPreProcessor', mean=[0, 0, 0],
                               std=[255, 255, 255], pad_value=-1, size=(6, 4)))
    out = custom(pseudo_collate(items))
    torch.testing.assert_close(out['inputs'][0, :, :4], items[0]['inputs'].flip(0) / 255.0)
    assert (out['inputs'][0, :, 4:] == -1).all()
    with pytest.raises(ValueError, match='both mean and std'):
        MultiTaskDataPreProcessor(mean=[0, 0, 0], std=None)


def test_without_data_samples():
    out = MultiTaskDataPreProcessor()(dict(inputs=[torch.zeros(3, 5, 5, dtype=torch.uint8)]))
    assert out['inputs'].shape == (1, 3, 5, 5) and out['data_samples'] is None


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('sakbox')
