"""SeededViewCrop and the deterministic view sampling behind the teacher-feature cache."""
import cv2
import numpy as np
import pytest

from sakbox.datasets.transforms import SeededViewCrop, ViewParams, sample_view_params
from sakbox.registry import TRANSFORMS


def _image(h=40, w=60, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize('hw', [(40, 60), (64, 32), (17, 23)])
def test_views_are_pure_functions_of_seed_index_view(hw):
    a = sample_view_params(3, 5, 1, hw)
    np.random.seed(123)  # global state must not matter
    assert sample_view_params(3, 5, 1, hw) == a
    others = {sample_view_params(s, i, k, hw) for s, i, k in
              [(4, 5, 1), (3, 6, 1), (3, 5, 2), (3, 5, 0)]}
    assert a not in others
    for index in range(50):
        p = sample_view_params(0, index, 0, hw, scale=(0.3, 1.0))
        assert (p.img_h, p.img_w) == hw
        assert 0 <= p.y0 and p.y0 + p.crop_h <= hw[0] and 0 <= p.x0 and p.x0 + p.crop_w <= hw[1]
        assert p.flip in (0, 1)


def test_crop_area_and_flip_follow_the_settings():
    params = [sample_view_params(0, i, 0, (200, 300), scale=(0.25, 0.5), flip_prob=0.5)
              for i in range(200)]
    areas = np.array([p.crop_h * p.crop_w / (200 * 300) for p in params])
    assert areas.min() > 0.23 and areas.max() < 0.52  # rounding of the box sides
    ratios = np.array([p.crop_w / p.crop_h for p in params])
    assert ratios.min() > 0.7 and ratios.max() < 1.4
    assert 60 < sum(p.flip for p in params) < 140
    assert not any(sample_view_params(0, i, 0, (20, 30), flip_prob=0.0).flip for i in range(20))
    assert all(sample_view_params(0, i, 0, (20, 30), flip_prob=1.0).flip for i in range(20))


def test_fallback_is_the_central_crop():
    # No box with this ratio fits a very wide image: the central crop with the max ratio.
    p = sample_view_params(0, 0, 0, (10, 100), scale=(0.9, 1.0), ratio=(1.0, 2.0))
    assert (p.y0, p.crop_h, p.crop_w) == (0, 10, 20) and p.x0 == 40


def test_given_params_are_applied_exactly():
    img = _image()
    params = ViewParams(40, 60, 5, 7, 20, 30, 1)
    t = TRANSFORMS.build(dict(type='SeededViewCrop', size=(16, 24)))
    out = t(dict(img=img.copy(), img_path='a.png', view_params=np.array(params)))
    expected = cv2.resize(img[5:25, 7:37], (24, 16), interpolation=cv2.INTER_LINEAR)[:, ::-1]
    np.testing.assert_array_equal(out['img'], expected)
    assert out['flip'] and out['flip_direction'] == 'horizontal'
    assert out['view_params'] == params and out['img_shape'] == (16, 24)


def test_drawn_view_is_recorded_and_reproducible():
    t = SeededViewCrop(size=(16, 16), seed=9)
    a = t(dict(img=_image(), sample_idx=4, view_idx=2))
    b = t(dict(img=_image(), sample_idx=4, view_idx=2))
    assert a['view_params'] == sample_view_params(9, 4, 2, (40, 60))
    np.testing.assert_array_equal(a['img'], b['img'])
    # Applying the recorded params elsewhere reproduces the image.
    c = t(dict(img=_image(), view_params=a['view_params']))
    np.testing.assert_array_equal(a['img'], c['img'])


def test_task_maps_follow_the_view():
    img = _image(20, 30)
    normals = np.zeros((20, 30, 3), np.float32)
    normals[..., 0] = 1.0
    seg = np.arange(30, dtype=np.uint8)[None].repeat(20, 0)
    t = SeededViewCrop(size=(10, 15), interpolation='nearest')
    out = t(dict(img=img, gt_normals=normals, gt_semseg=seg, task_fields=['normals', 'semseg'],
                 view_params=(20, 30, 0, 0, 20, 30, 1)))
    assert out['gt_normals'].shape == (10, 15, 3) and np.all(out['gt_normals'][..., 0] == -1)
    assert out['gt_semseg'][0, 0] > out['gt_semseg'][0, -1]  # flipped


def test_errors_name_the_problem():
    t = SeededViewCrop(size=8)
    with pytest.raises(ValueError, match='a.png loads as 40x60'):
        t(dict(img=_image(), img_path='a.png', view_params=(41, 60, 0, 0, 8, 8, 0)))
    with pytest.raises(KeyError, match='view_idx'):
        t(dict(img=_image(), sample_idx=0))
    with pytest.raises(ValueError, match='flip_prob'):
        SeededViewCrop(size=8, flip_prob=2)
