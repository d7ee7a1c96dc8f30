"""MultiTaskDataPreProcessor: BGR->RGB, normalisation, padding, metainfo; GT untouched."""
import numpy as np
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


def official_padded(img_bgr: torch.Tensor, size) -> np.ndarray:
    """The official evaluation input: Normalize (0-1 scale, ImageNet) then PadImage centred.

    PadImage leaves a dimension that already reaches ``size`` as it is and puts the
    image at ``(size - h) // 2``; the padding is 0 in normalised units.
    """
    rgb = img_bgr.flip(0).permute(1, 2, 0).numpy().astype(np.float32)
    norm = (rgb / 255.0 - np.array([0.485, 0.456, 0.406], np.float32)) \
        / np.array([0.229, 0.224, 0.225], np.float32)
    h, w = norm.shape[:2]
    th, tw = max(h, size[0]), max(w, size[1])
    out = np.zeros((th, tw, 3), np.float32)
    top, left = (th - h) // 2, (tw - w) // 2
    out[top:top + h, left:left + w] = norm
    return out.transpose(2, 0, 1)


@pytest.mark.parametrize('hw,size,offset,canvas', [
    ((425, 560), (448, 576), (11, 8), (448, 576)),   # NYUD multi-task release
    ((511, 333), (512, 512), (0, 89), (512, 512)),   # odd sizes, PASCAL
    ((448, 576), (448, 576), (0, 0), (448, 576)),    # already at the size
    ((470, 500), (448, 576), (0, 38), (470, 576)),   # taller than the size: rows kept
    ((600, 700), (448, 576), (0, 0), (600, 700))])   # larger than the size: as it is
def test_center_padding_matches_the_official_protocol(hw, size, offset, canvas):
    item = _item(*hw, seed=5)
    pre = MultiTaskDataPreProcessor(size=size, pad_position='center')
    out = pre(pseudo_collate([item]))
    assert tuple(out['inputs'].shape) == (1, 3, *canvas)
    ref = torch.from_numpy(official_padded(item['inputs'], size))
    torch.testing.assert_close(out['inputs'][0], ref, atol=2e-5, rtol=0)
    sample = out['data_samples'][0]
    assert sample.pad_offset == offset and sample.batch_offset == offset
    assert sample.pad_shape == sample.batch_input_shape == canvas
    top, left = offset
    h, w = hw
    pad = torch.ones(canvas, dtype=torch.bool)
    pad[top:top + h, left:left + w] = False
    # the padding colour is exactly 0 after normalisation (= the mean colour)
    assert (out['inputs'][0][:, pad] == 0).all()
    torch.testing.assert_close(out['inputs'][0, :, top:top + h, left:left + w],
                               _reference(item['inputs'], IMAGENET_MEAN, IMAGENET_STD),
                               atol=0, rtol=0)


def test_center_padding_mixed_sizes_in_one_batch():
    sizes = [(425, 560), (448, 576), (400, 501), (30, 20)]
    items = [_item(h, w, seed=i) for i, (h, w) in enumerate(sizes)]
    out = MultiTaskDataPreProcessor(size=(448, 576), pad_position='center',
                                    size_divisor=16)(pseudo_collate(items))
    assert out['inputs'].shape == (4, 3, 448, 576)
    for i, ((h, w), item, sample) in enumerate(zip(sizes, items, out['data_samples'])):
        top, left = (448 - h) // 2, (576 - w) // 2
        assert sample.pad_offset == sample.batch_offset == (top, left), i
        torch.testing.assert_close(out['inputs'][i, :, top:top + h, left:left + w],
                                   _reference(item['inputs'], IMAGENET_MEAN, IMAGENET_STD))
        outside = torch.ones(448, 576, dtype=torch.bool)
        outside[top:top + h, left:left + w] = False
        assert (out['inputs'][i][:, outside] == 0).all(), i  # exactly 0 elsewhere


def test_center_padding_with_divisor_and_batched_tensor():
    items = [_item(7, 9, s) for s in range(2)]
    out = MultiTaskDataPreProcessor(pad_position='center', size_divisor=4)(
        default_collate(items))
    assert out['inputs'].shape == (2, 3, 8, 12)
    for i, item in enumerate(items):
        assert out['data_samples'][i].pad_offset == (0, 1)
        torch.testing.assert_close(out['inputs'][i, :, 0:7, 1:10],
                                   _reference(item['inputs'], IMAGENET_MEAN, IMAGENET_STD))
    with pytest.raises(ValueError, match="pad position must be one of"):
        MultiTaskDataPreProcessor(pad_position='centre')


@pytest.mark.parametrize('position,batch_offset', [('center', (3, 2)),
                                                   ('bottom_right', (0, 0))])
def test_pipeline_pad_offset_composes(position, batch_offset):
    """A sample padded in the pipeline: pad_offset = pipeline offset + batch offset."""
    item = _item(10, 12, 0)
    item['data_samples'].set_metainfo(dict(img_shape=(8, 9), pad_offset=(1, 2)))
    out = MultiTaskDataPreProcessor(size=(16, 16), pad_position=position)(
        pseudo_collate([item]))
    sample = out['data_samples'][0]
    assert sample.batch_offset == batch_offset
    assert sample.pad_offset == (1 + batch_offset[0], 2 + batch_offset[1])
    # the original sample is not changed (the preprocessor works on copies)
    assert item['data_samples'].pad_offset == (1, 2)
    assert 'batch_offset' not in item['data_samples']


def test_without_data_samples():
    out = MultiTaskDataPreProcessor()(dict(inputs=[torch.zeros(3, 5, 5, dtype=torch.uint8)]))
    assert out['inputs'].shape == (1, 3, 5, 5) and out['data_samples'] is None


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('sakbox')
