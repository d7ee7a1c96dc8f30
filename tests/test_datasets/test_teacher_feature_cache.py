"""The teacher-feature cache format (index, shards, reader) and TeacherFeatureCacheDataset."""
import json
import os
import pickle
import shutil

import cv2
import numpy as np
import pytest
import torch

from sakbox.datasets import TeacherFeatureCacheDataset
from sakbox.datasets.feature_cache import (
    CacheIndex,
    ShardWriter,
    TeacherFeatureCache,
    shard_is_complete,
)
from sakbox.datasets.transforms import sample_view_params

NUM_IMAGES, VIEWS, SIZE = 5, 2, (16, 24)
LEVELS = dict(a=[[4, 2, 3], [6, 1, 2]], b=[[3, 4, 4]])
VIEW = dict(type='SeededViewCrop', size=list(SIZE), scale=[0.3, 1.0],
            ratio=[0.75, 4 / 3], flip_prob=0.5, interpolation='bilinear')
PIPELINE = [dict(type='LoadImageFromFile'),
            dict(type='SeededViewCrop', size=SIZE, scale=(0.3, 1.0), flip_prob=0.5),
            dict(type='PackMultiTaskInputs')]


def make_index(**kw):
    args = dict(num_images=NUM_IMAGES, num_views=VIEWS, seed=1, view=VIEW, shard_size=2,
                teachers={n: dict(cfg=dict(type='T', arch=n), levels=lv)
                          for n, lv in LEVELS.items()})
    args.update(kw)
    return CacheIndex(**args)


def fake_feats(image, view):
    """Deterministic features of (image, view) with the index's shapes."""
    g = torch.Generator().manual_seed(100 * image + view)
    return {n: [torch.randn(*s, generator=g) for s in lv] for n, lv in LEVELS.items()}


def write_cache(cache_dir, img_root, shards=None, **index_kw):
    """A cache of fake features whose views match the images in ``img_root``."""
    index = make_index(**index_kw)
    index.save(str(cache_dir))
    for shard in (range(index.num_shards) if shards is None else shards):
        writer = ShardWriter(str(cache_dir), index, shard)
        start, stop = index.shard_range(shard)
        for i in range(start, stop):
            for k in range(VIEWS):
                params = sample_view_params(1, i, k, (30, 40), (0.3, 1.0))
                writer.write(i, k, params, fake_feats(i, k))
        writer.commit([f'img_{i}' for i in range(start, stop)])
    return index


@pytest.fixture
def img_root(tmp_path):
    root = tmp_path / 'images'
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(NUM_IMAGES):
        cv2.imwrite(str(root / f'img_{i}.png'), rng.integers(0, 256, (30, 40, 3), np.uint8))
    return root


@pytest.fixture
def cache_dir(tmp_path, img_root):
    write_cache(tmp_path / 'cache', img_root)
    return tmp_path / 'cache'


def dataset_cfg(img_root, pipeline=PIPELINE):
    return dict(type='ImageFolderDataset', data_root=str(img_root), pipeline=pipeline)


def test_index_round_trip_and_layout(tmp_path):
    index = make_index()
    path = index.save(str(tmp_path))
    assert json.load(open(path))['teachers']['a']['levels'] == LEVELS['a']
    loaded = CacheIndex.load(str(tmp_path))
    assert loaded == index and loaded.num_shards == 3
    assert [loaded.shard_range(s) for s in range(3)] == [(0, 2), (2, 4), (4, 5)]
    assert loaded.bytes_per_view() == 2 * (24 + 12 + 48) + 28
    assert not [f for f in os.listdir(tmp_path) if '.tmp' in f]


@pytest.mark.parametrize('change, key', [
    (dict(num_views=3), "'num_views'"), (dict(seed=2), "'seed'"),
    (dict(teachers={'a': dict(cfg=dict(type='T', arch='a'), levels=[[4, 2, 3]])}),
     'teachers'),
    (dict(teachers={n: dict(cfg=dict(type='T', arch=n), levels=[[9, 9, 9]] * len(lv))
                    for n, lv in LEVELS.items()}), "'teachers.a.levels'"),
])
def test_mismatched_index_names_the_key(tmp_path, change, key):
    make_index().save(str(tmp_path))
    with pytest.raises(ValueError, match=key) as err:
        CacheIndex.load(str(tmp_path)).check_matches(make_index(**change), 'X/index.json')
    assert 'X/index.json' in str(err.value)


def test_not_a_cache(tmp_path):
    with pytest.raises(FileNotFoundError, match='index.json'):
        CacheIndex.load(str(tmp_path))


def test_written_features_read_back_in_fp16(cache_dir):
    cache = TeacherFeatureCache(str(cache_dir))
    for i in range(NUM_IMAGES):
        for k in range(VIEWS):
            got, ref = cache.features(i, k), fake_feats(i, k)
            for n in LEVELS:
                for g, r in zip(got[n], ref[n]):
                    assert g.dtype == torch.float16 and g.shape == r.shape
                    torch.testing.assert_close(g.float(), r, rtol=1e-3, atol=1e-3)
            assert tuple(cache.view_params(i, k)) == sample_view_params(1, i, k, (30, 40),
                                                                        (0.3, 1.0))
    assert cache.img_id(3) == 'img_3'
    only_b = TeacherFeatureCache(str(cache_dir), teachers=['b'])
    assert list(only_b.features(0, 0)) == ['b']
    with pytest.raises(KeyError, match="no teachers \\['c'\\]"):
        TeacherFeatureCache(str(cache_dir), teachers=['c'])
    # Pickling (data-loader workers) drops the memory maps; they reopen on demand.
    clone = pickle.loads(pickle.dumps(cache))
    assert not clone._open and torch.equal(clone.features(4, 1)['a'][1],
                                           cache.features(4, 1)['a'][1])


def test_unfinished_shards_are_invisible(tmp_path, img_root):
    cache_dir = tmp_path / 'cache'
    index = write_cache(cache_dir, img_root, shards=[0, 2])
    # A killed writer leaves only its temporary directory.
    writer = ShardWriter(str(cache_dir), index, 1)
    writer.write(2, 0, sample_view_params(1, 2, 0, (30, 40)), fake_feats(2, 0))
    assert not shard_is_complete(str(cache_dir), 1)
    with pytest.raises(FileNotFoundError, match='1 of 3 shards are not finished.*shard_00001'):
        TeacherFeatureCache(str(cache_dir))
    with pytest.raises(RuntimeError, match='not written'):
        writer.commit(['img_2', 'img_3'])
    writer.abort()
    assert sorted(os.listdir(cache_dir)) == ['index.json', 'shard_00000', 'shard_00002']
    partial = TeacherFeatureCache(str(cache_dir), require_complete=False)
    with pytest.raises(FileNotFoundError, match='shard_00001 is not finished'):
        partial.features(2, 0)


def test_writer_rejects_wrong_shapes(tmp_path):
    index = make_index()
    writer = ShardWriter(str(tmp_path), index, 0)
    feats = fake_feats(0, 0)
    feats['a'][1] = torch.zeros(6, 2, 2)
    with pytest.raises(ValueError, match="teacher 'a' level 1: shape \\(6, 2, 2\\)"):
        writer.write(0, 0, (1,) * 7, feats)
    writer.abort()


@pytest.mark.parametrize('damage', ['shape', 'truncate'])
def test_corrupt_shard_file_is_named(cache_dir, damage):
    bad = cache_dir / 'shard_00001' / 'b.l0.npy'
    if damage == 'shape':
        np.save(bad, np.zeros((2, 2, 3, 4, 5), np.float16))
    else:
        with open(bad, 'r+b') as f:
            f.truncate(200)
    cache = TeacherFeatureCache(str(cache_dir))
    with pytest.raises(ValueError, match='shard_00001/b.l0.npy'):
        cache.features(2, 0)


def test_dataset_serves_the_cached_view_with_its_features(cache_dir, img_root):
    ds = TeacherFeatureCacheDataset(dataset_cfg(img_root), str(cache_dir), view=1)
    assert len(ds) == NUM_IMAGES
    item = ds[3]
    params = sample_view_params(1, 3, 1, (30, 40), (0.3, 1.0))
    img = cv2.imread(str(img_root / 'img_3.png'))
    crop = img[params.y0:params.y0 + params.crop_h, params.x0:params.x0 + params.crop_w]
    expected = cv2.resize(crop, SIZE[::-1], interpolation=cv2.INTER_LINEAR)
    if params.flip:
        expected = expected[:, ::-1]
    np.testing.assert_array_equal(item['inputs'].permute(1, 2, 0).numpy(), expected)
    sample = item['data_samples']
    assert sample.flip == bool(params.flip)
    feats = sample.teacher_feats
    for n in LEVELS:
        for g, r in zip(feats[n], fake_feats(3, 1)[n]):
            torch.testing.assert_close(g.float(), r, rtol=1e-3, atol=1e-3)


def test_random_view_follows_numpy_seed(cache_dir, img_root):
    ds = TeacherFeatureCacheDataset(dataset_cfg(img_root), str(cache_dir))

    def views():
        return [ds.choose_view() for _ in range(20)]
    np.random.seed(0)
    a = views()
    np.random.seed(0)
    assert views() == a and set(a) == {0, 1}


@pytest.mark.parametrize('breakage, match', [
    ('drop_image', "'num_images' is 5 but the dataset"),
    ('size', "'view.size' is \\[16, 24\\] in the cache"),
    ('teacher_cfg', 'teachers.a.cfg.arch'),
    ('rename', "image 1 was 'img_1' at extraction"),
    ('order', "key 'teachers' holds \\['a', 'b'\\] in this order, the config \\['b', 'a'\\]"),
    ('init_seed', "'teachers.a.init_seed' is None, but teacher_init_seed=3"),
])
def test_mismatched_cache_is_refused(cache_dir, img_root, breakage, match):
    kwargs = {}
    pipeline = PIPELINE
    if breakage == 'drop_image':
        os.remove(img_root / 'img_4.png')
    elif breakage == 'size':
        pipeline = [PIPELINE[0], dict(PIPELINE[1], size=(16, 16)), PIPELINE[2]]
    elif breakage == 'teacher_cfg':
        kwargs['teachers'] = dict(a=dict(type='T', arch='other'), b=dict(type='T'))
    elif breakage == 'order':
        kwargs['teachers'] = dict(b=dict(type='T'), a=dict(type='T'))
    elif breakage == 'init_seed':
        kwargs['teacher_init_seed'] = 3
    elif breakage == 'rename':
        shutil.move(img_root / 'img_1.png', img_root / 'img_1b.png')
    if breakage == 'rename':
        ds = TeacherFeatureCacheDataset(dataset_cfg(img_root, pipeline), str(cache_dir))
        with pytest.raises(ValueError, match=match):
            ds[1]
        return
    with pytest.raises(ValueError, match=match):
        TeacherFeatureCacheDataset(dataset_cfg(img_root, pipeline), str(cache_dir), **kwargs)


def test_pipeline_without_seeded_view_is_refused(cache_dir, img_root):
    pipeline = [PIPELINE[0], dict(type='RandomResizedCrop', size=SIZE), PIPELINE[2]]
    with pytest.raises(ValueError, match='exactly one SeededViewCrop'):
        TeacherFeatureCacheDataset(dataset_cfg(img_root, pipeline), str(cache_dir))


@pytest.mark.parametrize('cached, configured, match', [
    ('teacher', None, None),  # unset = the class default, which the cache recorded
    ('teacher', 'teacher', None),
    ('student', 'student', None),
    ('teacher', 'student', "teachers.a.cfg.input_norm is 'teacher' in the cache but "
                           "'student' in the config"),
    ('student', None, "teachers.a.cfg.input_norm is 'student' in the cache but 'teacher'"),
    (None, 'student', "teachers.a.cfg.input_norm is None in the cache"),  # unrecorded
])
def test_input_norm_must_match(tmp_path, img_root, cached, configured, match):
    def cfg(norm):
        return dict(type='TimmViTTeacher', arch='x', **({} if norm is None
                                                         else dict(input_norm=norm)))
    write_cache(tmp_path / 'cache', img_root,
                teachers={n: dict(cfg=cfg(cached), levels=lv) for n, lv in LEVELS.items()})
    teachers = {n: cfg(configured) for n in LEVELS}

    def build():
        return TeacherFeatureCacheDataset(dataset_cfg(img_root), str(tmp_path / 'cache'),
                                          teachers=teachers)
    if match is None:
        assert len(build()) == NUM_IMAGES
    else:
        with pytest.raises(ValueError, match=match):
            build()
