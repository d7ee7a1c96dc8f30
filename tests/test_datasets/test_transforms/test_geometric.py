"""Geometric transforms keep the image and every task map aligned, pixel-exactly."""
import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose

from sakbox.datasets.transforms import (
    MultiTaskPad,
    MultiTaskRandomCrop,
    MultiTaskRandomFlip,
    MultiTaskResize,
    RandomRescale,
    RandomResizedCrop,
)

from ..conftest import coordinate_sample, decode_pid

H, W = 24, 36


def assert_aligned(r, valid=None, flip=(1, 1), depth_scale=1.0, image=True):
    """Every map (and the image) decodes to the source pixel given by semseg + parts."""
    pid = decode_pid(r)
    valid = np.ones(pid.shape, bool) if valid is None else valid
    y, x = pid // W, pid % W
    v = valid
    np.testing.assert_allclose((r['gt_depth'] * depth_scale)[v], (pid + 1)[v], rtol=1e-5)
    np.testing.assert_allclose(r['gt_normals'][..., 0][v] * 100 * flip[0], x[v], atol=1e-4)
    np.testing.assert_allclose(r['gt_normals'][..., 1][v] * 100 * flip[1], y[v], atol=1e-4)
    np.testing.assert_array_equal(r['gt_edge'][v], x[v] % 2)
    np.testing.assert_array_equal(r['gt_sal'][v], y[v] % 2)
    if image:
        np.testing.assert_array_equal(r['img'][..., 0][v], x[v])
        np.testing.assert_array_equal(r['img'][..., 1][v], y[v])
    for key in ('gt_semseg', 'gt_human_parts', 'gt_edge', 'gt_sal', 'gt_depth', 'gt_normals'):
        assert r[key].shape[:2] == r['img'].shape[:2] == tuple(r['img_shape'][:2]), key


@pytest.mark.parametrize('crop', [(10, 15), (24, 36), (30, 50), 8])
def test_random_crop(crop):
    np.random.seed(0)
    r = MultiTaskRandomCrop(crop_size=crop)(coordinate_sample(H, W))
    ch, cw = (crop, crop) if isinstance(crop, int) else crop
    assert r['img'].shape[:2] == (min(ch, H), min(cw, W))
    assert_aligned(r)
    pid = decode_pid(r)
    y0, x0 = pid[0, 0] // W, pid[0, 0] % W
    np.testing.assert_array_equal(pid, (np.mgrid[0:H, 0:W][0] * W + np.mgrid[0:H, 0:W][1])[
        y0:y0 + r['img'].shape[0], x0:x0 + r['img'].shape[1]])


@pytest.mark.parametrize('direction,sign', [('horizontal', (-1, 1)), ('vertical', (1, -1)),
                                            ('diagonal', (-1, -1))])
def test_flip_keeps_maps_aligned_and_negates_normals(direction, sign):
    r = MultiTaskRandomFlip(prob=1, direction=direction)(coordinate_sample(H, W))
    assert r['flip'] and r['flip_direction'] == direction
    assert_aligned(r, flip=sign)
    pid = decode_pid(r)
    if direction in ('horizontal', 'diagonal'):
        assert pid[0, 0] % W == W - 1
    if direction in ('vertical', 'diagonal'):
        assert pid[0, 0] // W == H - 1


def test_no_flip_leaves_everything():
    r = MultiTaskRandomFlip(prob=0.0)(coordinate_sample(H, W))
    assert not r['flip'] and r['flip_direction'] is None
    np.testing.assert_array_equal(decode_pid(r), np.arange(H * W).reshape(H, W))


@pytest.mark.parametrize('factor', [0.5, 1.5, 2.0, 0.75])
def test_resize_divides_depth_by_the_scale(factor):
    t = MultiTaskResize(scale_factor=factor, interpolation='nearest')
    r = t(coordinate_sample(H, W))
    assert r['img'].shape[:2] == (int(H * factor), int(W * factor))
    assert r['scale_factor'] == pytest.approx((int(W * factor) / W, int(H * factor) / H))
    assert_aligned(r, depth_scale=factor)


def test_resize_to_size_keeps_ratio():
    r = MultiTaskResize(scale=(48, 100))(coordinate_sample(H, W))
    assert r['img'].shape[:2] == (48, 72)
    assert_aligned(r, depth_scale=2.0, image=False)


def test_bilinear_image_stays_within_half_a_pixel_of_the_maps():
    """Maps use centre-aligned nearest neighbour: the same sample points as the image."""
    r = MultiTaskResize(scale_factor=1.7)(coordinate_sample(H, W))
    pid = decode_pid(r)
    inner = np.zeros(pid.shape, bool)
    inner[2:-2, 2:-2] = True
    for ch, coord in ((0, pid % W), (1, pid // W)):
        err = np.abs(r['img'][..., ch].astype(float) - coord)[inner]
        assert err.max() <= 1.0 and err.mean() < 0.35


@pytest.mark.parametrize('seed', range(4))
def test_random_rescale(seed):
    np.random.seed(seed)
    r = RandomRescale(ratio_range=(0.5, 2.0), interpolation='nearest')(coordinate_sample(H, W))
    factor = float(np.mean((decode_pid(r) + 1) / r['gt_depth']))
    assert 0.5 <= factor <= 2.0
    assert r['img'].shape[:2] == (int(H * factor), int(W * factor))
    assert_aligned(r, depth_scale=factor)


def test_pad_values_and_alignment():
    r = MultiTaskPad(size=(30, 40))(coordinate_sample(H, W))
    assert r['pad_shape'] == (30, 40) and r['img'].shape[:2] == (30, 40)
    assert r['img_shape'] == (H, W)  # the valid region
    inner = np.zeros((30, 40), bool)
    inner[:H, :W] = True
    for key in ('gt_semseg', 'gt_human_parts', 'gt_edge', 'gt_sal'):
        assert (r[key][~inner] == 255).all()
    assert (r['gt_depth'][~inner] == 0).all() and (r['gt_normals'][~inner] == 0).all()
    assert (r['img'][~inner] == 0).all()
    sub = {k: (v[:H, :W] if isinstance(v, np.ndarray) else v) for k, v in r.items()}
    assert_aligned(sub)


def test_pad_to_divisor():
    r = MultiTaskPad(size_divisor=16)(coordinate_sample(H, W))
    assert r['img'].shape[:2] == (32, 48) == r['gt_normals'].shape[:2]


@pytest.mark.parametrize('size,offset', [((30, 41), (3, 2)), ((25, 36), (0, 0)),
                                         ((24, 40), (0, 2))])
def test_pad_center_values_and_alignment(size, offset):
    r = MultiTaskPad(size=size, position='center')(coordinate_sample(H, W))
    top, left = offset
    assert r['pad_offset'] == offset and r['pad_shape'] == size
    assert r['img'].shape[:2] == size and r['img_shape'] == (H, W)
    inner = np.zeros(size, bool)
    inner[top:top + H, left:left + W] = True
    for key in ('gt_semseg', 'gt_human_parts', 'gt_edge', 'gt_sal'):
        assert (r[key][~inner] == 255).all(), key
    assert (r['gt_depth'][~inner] == 0).all() and (r['gt_normals'][~inner] == 0).all()
    assert (r['img'][~inner] == 0).all()
    sub = {k: (v[top:top + H, left:left + W] if isinstance(v, np.ndarray) else v)
           for k, v in r.items()}
    assert_aligned(sub)


def test_pad_offsets_accumulate_and_reach_the_metainfo():
    pipe = Compose([dict(type='MultiTaskPad', size=(30, 41), position='center'),
                    dict(type='MultiTaskPad', size=(33, 45), position='center'),
                    dict(type='MultiTaskPad', size_divisor=16),
                    dict(type='AddIgnoreRegions'), dict(type='PackMultiTaskInputs')])
    out = pipe(coordinate_sample(H, W))
    meta = out['data_samples'].metainfo
    assert meta['pad_offset'] == (3 + 1, 2 + 2) and meta['pad_shape'] == (48, 48)
    assert meta['img_shape'] == (H, W)
    assert out['inputs'].shape == (3, 48, 48)
    with pytest.raises(ValueError, match='pad position must be one of'):
        MultiTaskPad(size=8, position='middle')


@pytest.mark.parametrize('seed', range(3))
def test_training_chain_with_centred_preprocessor_padding_keeps_alignment(seed):
    """Rescale, crop, flip, ignore regions, pack, then the preprocessor pads centred:
    image, every ground-truth map and the normals' flipped x agree pixel by pixel in
    the batch the loss sees, and the padding is invalid for every task."""
    from mmengine.dataset import pseudo_collate

    from sakbox.models.data_preprocessors import MultiTaskDataPreProcessor
    from sakbox.models.utils import stack_task_gt

    np.random.seed(seed)
    crop = (20, 30)
    # zoom out by 0.5-0.8: every crop is smaller than crop_size, so all get padded
    pipe = Compose([dict(type='RandomRescale', ratio_range=(0.5, 0.8), interpolation='nearest'),
                    dict(type='MultiTaskRandomCrop', crop_size=crop),
                    dict(type='MultiTaskRandomFlip', prob=1.0),
                    dict(type='AddIgnoreRegions'), dict(type='PackMultiTaskInputs')])
    items = [pipe(coordinate_sample(H, W)) for _ in range(3)]
    pre = MultiTaskDataPreProcessor(mean=None, std=None, bgr_to_rgb=False, size=crop,
                                    pad_value=-1, pad_position='center')
    batch = pre(pseudo_collate(items))
    img = batch['inputs']
    assert img.shape[-2:] == crop
    gt = {t: stack_task_gt(batch['data_samples'], t, crop)
          for t in ('semseg', 'human_parts', 'depth', 'normals', 'edge', 'sal')}
    for i, (item, sample) in enumerate(zip(items, batch['data_samples'])):
        h, w = item['inputs'].shape[-2:]
        top, left = (crop[0] - h) // 2, (crop[1] - w) // 2
        assert sample.pad_offset == (top, left) and sample.img_shape == (h, w)
        assert h < crop[0] and w < crop[1]
        valid = img[i, 2] == 7  # the image's third channel is 7 everywhere
        assert int(valid.sum()) == h * w and bool(valid[top:top + h, left:left + w].all())
        x, y = img[i, 0][valid].long(), img[i, 1][valid].long()
        pid = gt['human_parts'][i, 0][valid] * 251 + gt['semseg'][i, 0][valid]
        assert torch.equal(pid, y * W + x)
        depth = gt['depth'][i, 0][valid]
        factor = float(((pid + 1).float() / depth).mean())
        torch.testing.assert_close(depth * factor, (pid + 1).float(), rtol=1e-5, atol=0)
        normals = gt['normals'][i][:, valid]
        torch.testing.assert_close(normals[0] * -100, x.float(), atol=1e-4, rtol=0)  # flipped
        torch.testing.assert_close(normals[1] * 100, y.float(), atol=1e-4, rtol=0)
        assert torch.equal(gt['edge'][i, 0][valid], x % 2)
        assert torch.equal(gt['sal'][i, 0][valid], y % 2)
        for t in ('semseg', 'human_parts', 'edge', 'sal'):
            assert (gt[t][i, 0][~valid] == 255).all(), t
        assert (gt['depth'][i, 0][~valid] == 0).all()  # invalid depth (<= 0)
        assert (gt['normals'][i][:, ~valid] == 0).all()  # invalid normal (zero vector)


@pytest.mark.parametrize('seed', range(3))
def test_random_resized_crop(seed):
    np.random.seed(seed)
    r = RandomResizedCrop(size=(16, 20), scale=(0.2, 1.0), interpolation='nearest')(
        coordinate_sample(H, W))
    assert r['img'].shape[:2] == (16, 20)
    sw, sh = r['scale_factor']
    assert_aligned(r, depth_scale=np.sqrt(sw * sh))


def test_random_resized_crop_plain_image():
    np.random.seed(0)
    r = RandomResizedCrop(size=32)(dict(img=np.zeros((50, 70, 3), np.uint8)))
    assert r['img'].shape == (32, 32, 3)


def test_cat_max_ratio_rejects_crops_dominated_by_one_class():
    seg = np.zeros((100, 100), np.uint8)
    seg[:50, :50] = 1

    def balanced(ratio):
        ok = 0
        for seed in range(30):
            np.random.seed(seed)
            r = MultiTaskRandomCrop((40, 40), cat_max_ratio=ratio)(dict(
                img=np.zeros((100, 100, 3), np.uint8), gt_semseg=seg.copy(),
                task_fields=['semseg']))
            _, counts = np.unique(r['gt_semseg'], return_counts=True)
            ok += len(counts) > 1 and counts.max() / counts.sum() < 0.75
        return ok

    with_check, without = balanced(0.75), balanced(1.0)
    assert with_check >= 27 and with_check > without + 8


def test_full_training_chain_keeps_alignment():
    np.random.seed(1)
    pipe = Compose([dict(type='RandomRescale', ratio_range=(0.5, 2.0), interpolation='nearest'),
                    dict(type='MultiTaskRandomCrop', crop_size=(20, 30)),
                    dict(type='MultiTaskRandomFlip', prob=1.0),
                    dict(type='MultiTaskPad', size=(20, 30))])
    r = pipe(coordinate_sample(H, W))
    h, w = r['img_shape']
    sub = {k: (v[:h, :w] if isinstance(v, np.ndarray) else v) for k, v in r.items()}
    factor = float(np.mean((decode_pid(sub) + 1) / sub['gt_depth']))
    assert_aligned(sub, flip=(-1, 1), depth_scale=factor)


def test_unknown_task_map_is_an_error():
    r = coordinate_sample(H, W, tasks=('semseg',))
    r['task_fields'].append('optical_flow')
    r['gt_optical_flow'] = np.zeros((H, W, 2), np.float32)
    with pytest.raises(KeyError, match='optical_flow'):
        MultiTaskRandomFlip(prob=1.0)(r)


# ---------------------------------------------------------------- resize backends
def _photo():
    from skimage import data
    return np.ascontiguousarray(data.astronaut()[40:440, 20:500])  # 400x480 RGB


@pytest.mark.parametrize('size', [(384, 384), (500, 560), (97, 131)])
def test_pillow_backend_equals_torchvision_resize_on_pil(size):
    # The official SAK ImageNet pipelines are torchvision transforms on PIL images.
    from PIL import Image
    from torchvision.transforms import functional as TF

    from sakbox.datasets.transforms.geometric import resize_image
    img = _photo()
    ref = np.asarray(TF.resize(Image.fromarray(img), list(size),
                               interpolation=TF.InterpolationMode.BILINEAR))
    out = resize_image(img, size, 'bilinear', backend='pillow')
    assert out.dtype == np.uint8 and out.shape == ref.shape
    assert np.array_equal(out, ref)
    # channel order does not matter (BGR in the pipeline): channels resample alone
    assert np.array_equal(resize_image(img[..., ::-1].copy(), size, backend='pillow'),
                          ref[..., ::-1])


def test_random_resized_crop_pillow_equals_torchvision_resized_crop():
    from PIL import Image
    from torchvision.transforms import functional as TF
    img = _photo()
    t = RandomResizedCrop(size=(64, 80), scale=(0.3, 1.0), backend='pillow')
    np.random.seed(3)
    out = t(dict(img=img.copy(), img_shape=img.shape[:2], task_fields=[]))
    np.random.seed(3)
    y0, x0, ch, cw = t._random_box(*img.shape[:2])
    ref = np.asarray(TF.resized_crop(Image.fromarray(img), y0, x0, ch, cw, [64, 80],
                                     interpolation=TF.InterpolationMode.BILINEAR))
    assert np.array_equal(out['img'], ref)


def test_cv2_backend_is_the_default_and_differs_when_shrinking():
    from sakbox.datasets.transforms.geometric import resize_image
    img = _photo()
    assert np.array_equal(resize_image(img, (100, 120)),
                          cv2.resize(img, (120, 100), interpolation=cv2.INTER_LINEAR))
    diff = np.abs(resize_image(img, (100, 120)).astype(int)
                  - resize_image(img, (100, 120), backend='pillow').astype(int))
    assert diff.max() > 10  # no antialiasing in OpenCV's bilinear


def test_bad_backend_and_images_raise():
    from sakbox.datasets.transforms.geometric import resize_image
    with pytest.raises(ValueError, match="backend"):
        RandomResizedCrop(size=8, backend='skimage')
    with pytest.raises(ValueError, match='float32'):
        resize_image(np.zeros((4, 4, 3), np.float32), (2, 2), backend='pillow')
