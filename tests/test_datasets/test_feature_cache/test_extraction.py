"""feature_cache.extract_teacher_features (and its CLI): exactness, resume, mismatch, distributed,
training."""
import copy
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from sakbox.datasets import TeacherFeatureCacheDataset
from sakbox.datasets.feature_cache import (
    TeacherFeatureCache,
    extract_teacher_features,
    extraction_pipeline,
)
from sakbox.registry import MODELS
from sakbox.utils.cli import load_config
from tests.utils import free_port, run_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
NUM_IMAGES, SIZE = 6, (32, 32)
TINY = dict(depth=2, embed_dim=32, num_heads=2)
CONFIG = f"""
default_scope = 'sakbox'
img_size = {SIZE}
model = dict(
    type='MultiTeacherDistiller',
    data_preprocessor=dict(type='MultiTaskDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    student=dict(type='SAKViT', arch='vit_base_patch16_384', pretrained=False,
                 model_kwargs=dict({TINY}, patch_size=8), img_size=img_size, down_ratio=4,
                 aligner='auto', out_indices=(0, 1)),
    teachers=dict(
        dinov2=dict(type='TimmViTTeacher', arch='vit_small_patch14_dinov2', pretrained=False,
                    model_kwargs={TINY}, out_indices=(0, 1)),
        clip=dict(type='TimmViTTeacher', arch='vit_base_patch16_clip_384', pretrained=False,
                  model_kwargs={TINY}, out_indices=(0, 1))),
    teacher_init_seed=11,
    teacher_precision='fp32',
    distill_loss=dict(type='FeatureDistillLoss', loss_type='cos+l1'))
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ImageFolderDataset', data_root='IMG_ROOT', pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='RandomResizedCrop', size=img_size, scale=(0.3, 1.0)),
        dict(type='MultiTaskRandomFlip', prob=0.5),
        dict(type='PackMultiTaskInputs')]))
"""


def extract(cfg_path, out, cfg_options=None, **kwargs):
    """What ``tools/extract_teacher_features.py CFG --out OUT ...`` runs."""
    init_default_scope('sakbox')
    return extract_teacher_features(load_config(str(cfg_path), cfg_options), out=str(out),
                                    config_name=osp.basename(str(cfg_path)), **kwargs)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Images, an online config and a complete reference cache (read-only)."""
    base = tmp_path_factory.mktemp('extract')
    img_root = base / 'images'
    img_root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(NUM_IMAGES):
        cv2.imwrite(str(img_root / f'img_{i}.png'),
                    rng.integers(0, 256, (40 + 4 * i, 48, 3), np.uint8))
    cfg_path = base / 'online.py'
    cfg_path.write_text(CONFIG.replace('IMG_ROOT', str(img_root)))
    ref = base / 'ref'
    stats = extract(cfg_path, ref, **KW)
    assert stats['shards_done'] == [0, 1, 2] and stats['views'] == NUM_IMAGES * 2
    return dict(cfg=str(cfg_path), img_root=img_root, ref=ref, base=base)


ARGS = ['--views', '2', '--seed', '5', '--shard-size', '2', '--batch-size', '3',
        '--num-workers', '0']
KW = dict(views=2, seed=5, shard_size=2, batch_size=3, num_workers=0)


def _dataset(setup, view=0):
    cfg = Config.fromfile(setup['cfg'])
    ds = copy.deepcopy(cfg.train_dataloader.dataset.to_dict())
    ds['pipeline'] = extraction_pipeline(ds['pipeline'], seed=0)
    init_default_scope('sakbox')
    return TeacherFeatureCacheDataset(ds, str(setup['ref']), view=view,
                                      teachers=cfg.model.teachers.to_dict(),
                                      teacher_init_seed=cfg.model.teacher_init_seed), cfg


def _batch(ds, idxs):
    items = [ds[i] for i in idxs]
    return dict(inputs=[it['inputs'] for it in items],
                data_samples=[it['data_samples'] for it in items])


def _strip_cache(batch):
    out = copy.deepcopy(batch)
    for s in out['data_samples']:
        del s.teacher_feats
    return out


@pytest.mark.parametrize('view', [0, 1])
def test_cached_features_equal_online_teachers(setup, view):
    ds, cfg = _dataset(setup, view)
    init_default_scope('sakbox')
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(_batch(ds, range(NUM_IMAGES)), False)
    online = model.forward_teachers(data['inputs'])
    cached = model.get_teacher_feats(data['inputs'], data['data_samples'])
    for name in ('dinov2', 'clip'):
        for c, o in zip(cached[name], online[name]):
            assert c.shape == o.shape and c.dtype == torch.float32
            # fp16 storage: relative error below 2^-10 of each value (plus subnormals)
            torch.testing.assert_close(c, o, rtol=1e-3, atol=1e-4)


def test_training_loss_with_cache_equals_online(setup):
    ds, cfg = _dataset(setup, view=1)
    init_default_scope('sakbox')
    model = MODELS.build(cfg.model)
    cached_batch = _batch(ds, [0, 3, 5])
    from mmengine.optim import OptimWrapper
    losses = {}
    for mode, batch in (('online', _strip_cache(cached_batch)), ('cached', cached_batch)):
        torch.manual_seed(0)
        m = copy.deepcopy(model)
        optim = OptimWrapper(torch.optim.SGD(m.parameters(), lr=0.1))
        log = m.train_step(batch, optim)
        losses[mode] = (log, m.student.vit.blocks[0].attn.qkv.weight.detach().clone())
    log_online, w_online = losses['online']
    log_cached, w_cached = losses['cached']
    assert set(log_online) == set(log_cached) and len(log_online) == 5
    for key in log_online:
        torch.testing.assert_close(log_cached[key], log_online[key], rtol=2e-3, atol=1e-4)
    torch.testing.assert_close(w_cached, w_online, rtol=1e-3, atol=1e-5)

    # A cached model without teachers trains from the cache alone.
    no_teachers = copy.deepcopy(cfg.model)
    no_teachers.build_teachers = False
    init_default_scope('sakbox')
    lean = MODELS.build(no_teachers)
    lean.load_state_dict(model.state_dict())
    torch.manual_seed(0)
    log = lean.train_step(cached_batch, OptimWrapper(torch.optim.SGD(lean.parameters(), lr=0.1)))
    for key in log_online:
        torch.testing.assert_close(log[key], log_cached[key])


def test_index_records_views_and_shards(setup):
    index = json.loads((setup['ref'] / 'index.json').read_text())
    assert index['num_images'] == NUM_IMAGES and index['num_views'] == 2
    assert index['seed'] == 5 and index['complete_shards'] == [0, 1, 2]
    assert index['view']['size'] == list(SIZE) and index['view']['flip_prob'] == 0.5
    assert list(index['teachers']) == ['dinov2', 'clip']
    assert index['teachers']['clip']['levels'] == [[32, 2, 2]] * 2
    assert index['teachers']['dinov2']['cfg']['input_std'] == [58.395, 57.12, 57.375]
    # the config leaves input_norm to the class default: the index spells it out
    assert {t['cfg']['input_norm'] for t in index['teachers'].values()} == {'teacher'}
    cache = TeacherFeatureCache(str(setup['ref']))
    views = np.load(setup['ref'] / 'shard_00002' / 'views.npy')
    assert views.shape == (2, 2, 7) and list(views[1, 0, :2]) == [60, 48]
    assert cache.img_id(5) == 'img_5'


def test_resume_redoes_only_unfinished_shards(setup, tmp_path):
    out = tmp_path / 'cache'
    stats = extract(setup['cfg'], out, max_shards=1, **KW)
    assert stats['shards_done'] == [0]  # "killed" after the first shard
    os.makedirs(out / 'shard_00001.tmp-host-123')  # leftover of a killed writer
    (out / 'shard_00001.tmp-host-123' / 'clip.l0.npy').write_bytes(b'partial')
    done0 = (out / 'shard_00000' / 'done.json').stat().st_mtime_ns
    stats = extract(setup['cfg'], out, **KW)
    assert stats['shards_skipped'] == [0] and stats['shards_done'] == [1, 2]
    assert (out / 'shard_00000' / 'done.json').stat().st_mtime_ns == done0
    assert not [f for f in os.listdir(out) if '.tmp' in f]
    # A shard whose completion mark is lost is redone, and only that one.
    os.remove(out / 'shard_00001' / 'done.json')
    stats = extract(setup['cfg'], out, **KW)
    assert stats['shards_done'] == [1] and stats['shards_skipped'] == [0, 2]
    _assert_same_cache(out, setup['ref'])


def test_mismatched_cache_raises_naming_the_key(setup, tmp_path):
    out = tmp_path / 'cache'
    shutil.copytree(setup['ref'], out)
    with pytest.raises(ValueError, match="key 'num_views' is 2 in the cache but 3"):
        extract(setup['cfg'], out, views=3, seed=5, shard_size=2)
    with pytest.raises(ValueError, match="key 'teachers.dinov2.init_seed' \\(11 in the cache"):
        extract(setup['cfg'], out, {'model.teacher_init_seed': 12}, **KW)


def test_cache_of_one_input_norm_is_refused_for_the_other(setup, tmp_path):
    out = tmp_path / 'cache'
    shutil.copytree(setup['ref'], out)
    with pytest.raises(ValueError, match="key 'teachers.clip.cfg' .*'input_norm': 'teacher'"):
        extract(setup['cfg'], out, {'model.teachers.clip.input_norm': 'student'}, **KW)
    cfg = Config.fromfile(setup['cfg'])
    teachers = cfg.model.teachers.to_dict()
    teachers['clip']['input_norm'] = 'student'
    pipeline = extraction_pipeline(cfg.train_dataloader.dataset.pipeline, seed=0)
    ds = dict(cfg.train_dataloader.dataset.to_dict(), pipeline=pipeline)
    init_default_scope('sakbox')
    with pytest.raises(ValueError, match="teachers.clip.cfg.input_norm is 'teacher' in the "
                                         "cache but 'student' in the config"):
        TeacherFeatureCacheDataset(ds, str(setup['ref']), teachers=teachers)


def test_random_pipeline_steps_are_refused():
    with pytest.raises(ValueError, match="'MultiTaskPhotoMetricDistortion' is not reproducible"):
        extraction_pipeline([dict(type='LoadImageFromFile'),
                             dict(type='RandomResizedCrop', size=8),
                             dict(type='MultiTaskPhotoMetricDistortion')], seed=0)


def _assert_same_cache(a, b, exact=True):
    names = sorted(os.listdir(a))
    assert names == sorted(os.listdir(b))
    for shard in (n for n in names if n.startswith('shard_')):
        for f in sorted(os.listdir(a / shard)):
            if f.endswith('.npy'):
                x, y = np.load(a / shard / f), np.load(b / shard / f)
                if exact or f == 'views.npy':
                    np.testing.assert_array_equal(x, y, err_msg=f'{shard}/{f}')
                else:
                    np.testing.assert_allclose(x.astype(np.float32), y.astype(np.float32),
                                               rtol=2e-3, atol=1e-4, err_msg=f'{shard}/{f}')


@pytest.mark.dist
def test_two_process_extraction_equals_one_process(setup, tmp_path):
    out = tmp_path / 'cache'
    run_tool([shutil.which('torchrun') or 'torchrun', '--nproc_per_node', '2',
              '--master_port', str(free_port()), 'tools/extract_teacher_features.py',
              setup['cfg'], '--out', str(out), '--launcher', 'pytorch'] + ARGS)
    index = json.loads((out / 'index.json').read_text())
    assert index['complete_shards'] == [0, 1, 2]
    _assert_same_cache(out, setup['ref'], exact=False)
