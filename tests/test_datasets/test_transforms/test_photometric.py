"""MultiTaskPhotoMetricDistortion changes only the image."""
import numpy as np
import pytest

from sakbox.datasets.transforms import MultiTaskPhotoMetricDistortion

from ..conftest import coordinate_sample


@pytest.mark.parametrize('seed', range(3))
def test_only_the_image_changes(seed):
    src = coordinate_sample()
    src['img'] = np.random.default_rng(seed).integers(0, 256, src['img'].shape).astype(np.uint8)
    ref = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in src.items()}
    np.random.seed(seed)
    r = MultiTaskPhotoMetricDistortion()(src)
    assert r['img'].dtype == np.uint8 and r['img'].shape == ref['img'].shape
    for k in ref:
        if k.startswith('gt_'):
            np.testing.assert_array_equal(r[k], ref[k])
    np.random.seed(seed)
    again = MultiTaskPhotoMetricDistortion()({**ref, 'img': ref['img'].copy()})
    np.testing.assert_array_equal(again['img'], r['img'])


def test_changes_images_across_draws():
    img = np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    changed = 0
    for seed in range(8):
        np.random.seed(seed)
        changed += not np.array_equal(MultiTaskPhotoMetricDistortion()(dict(img=img.copy()))['img'], img)
    assert changed >= 6


def test_rejects_float_images():
    with pytest.raises(TypeError, match='uint8'):
        MultiTaskPhotoMetricDistortion()(dict(img=np.zeros((4, 4, 3), np.float32)))
