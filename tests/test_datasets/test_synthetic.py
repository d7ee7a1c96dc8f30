"""The synthetic scene generator: layouts, determinism, geometric consistency."""
import filecmp
import json
import os
import os.path as osp

import numpy as np
import pytest
import scipy.io as sio
from PIL import Image

from sakbox.datasets.synthetic import (
    SCENE_CLASSES,
    backproject,
    boundary_map,
    generate_synthetic_dataset,
    render_sample,
)
from tests.utils import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

NYUD_FILES = ['images/{}.png', 'segmentation/{}.png', 'depth/{}.npy', 'normals/{}.png',
              'edge/{}.png']
PASCAL_FILES = ['JPEGImages/{}.jpg', 'semseg/pascal-context/{}.png', 'human_parts/{}.mat',
                'sal_distill/{}.png', 'normals_distill/{}.png', 'pascal-context/trainval/{}.mat']


@pytest.mark.parametrize('layout,files,split_dir', [
    ('nyud', NYUD_FILES, 'gt_sets'), ('pascal', PASCAL_FILES, 'ImageSets/Context')])
def test_generator_writes_layout(layout, files, split_dir, request):
    root = request.getfixturevalue(f'{layout}_root')
    ids = {}
    for split, n in (('train', 4), ('val', 2)):
        with open(root / split_dir / f'{split}.txt') as f:
            ids[split] = f.read().split()
        assert len(ids[split]) == n
    assert not set(ids['train']) & set(ids['val'])
    for img_id in ids['train'] + ids['val']:
        for pattern in files:
            assert (root / pattern.format(img_id)).is_file(), pattern.format(img_id)
    img = np.asarray(Image.open(root / files[0].format(ids['train'][0])))
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8
    if layout == 'pascal':
        for name in ('nyu_classes', 'context_classes', 'pascal_part'):
            with open(root / 'json' / f'{name}.json') as f:
                table = json.load(f)
            assert isinstance(table, dict) and table
        assert all(isinstance(v, int) for v in table['15'].values())


def test_pascal_mat_files_follow_the_real_struct(pascal_root):
    """Positional indexing as the reference loader does it must work on our .mat files."""
    found_person = False
    for name in sorted(os.listdir(pascal_root / 'human_parts')):
        objects = sio.loadmat(pascal_root / 'human_parts' / name)['anno'][0][0][1][0]
        label_map = sio.loadmat(pascal_root / 'pascal-context/trainval' / name)['LabelMap']
        assert label_map.shape == (48, 64) and label_map.dtype == np.uint16
        for obj in objects:
            assert obj[2].shape == (48, 64)
            cls_ind = obj[1][0][0]
            if cls_ind == 15 and len(obj[3]) != 0:
                found_person = True
                part_names = {str(obj[3][0][i][0][0]) for i in range(len(obj[3][0]))}
                assert part_names <= {'head', 'torso', 'luarm', 'ruarm', 'llarm', 'rlarm',
                                      'luleg', 'ruleg', 'llleg', 'rlleg'}
            elif cls_ind != 15:
                assert len(obj[3]) == 0
    assert found_person


def _files(root):
    return sorted(osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


@pytest.mark.parametrize('layout', ['nyud', 'pascal'])
def test_deterministic_by_seed(layout, tmp_path):
    kw = dict(num_train=2, num_val=1, size=(24, 32))
    generate_synthetic_dataset(layout, str(tmp_path / 'a'), seed=5, **kw)
    generate_synthetic_dataset(layout, str(tmp_path / 'b'), seed=5, **kw)
    generate_synthetic_dataset(layout, str(tmp_path / 'c'), seed=6, **kw)
    files = _files(tmp_path / 'a')
    assert files == _files(tmp_path / 'b') == _files(tmp_path / 'c')
    for f in files:
        a, b = tmp_path / 'a' / f, tmp_path / 'b' / f
        if f.endswith('.mat'):  # the .mat header holds a creation time
            ma, mb = sio.loadmat(a), sio.loadmat(b)
            key = 'LabelMap' if 'LabelMap' in ma else 'anno'
            if key == 'LabelMap':
                np.testing.assert_array_equal(ma[key], mb[key])
        else:
            assert filecmp.cmp(a, b, shallow=False), f
    img = files[0] if files[0].endswith(('.png', '.jpg')) else next(
        f for f in files if f.startswith(('images', 'JPEGImages')))
    assert not filecmp.cmp(tmp_path / 'a' / img, tmp_path / 'c' / img, shallow=False)


def test_sample_does_not_depend_on_split_sizes():
    a = render_sample('nyud', 24, 32, seed=1, index=3)
    b = render_sample('nyud', 24, 32, seed=1, index=3, split='train')
    c = render_sample('nyud', 24, 32, seed=1, index=3, split='val')
    np.testing.assert_array_equal(a['image'], b['image'])
    assert not np.array_equal(a['image'], c['image'])


def _cross_product_normals(depth, K):
    """Normals from back-projected depth (central differences), facing the camera."""
    p = backproject(depth.astype(np.float64), K)
    du = p[1:-1, 2:] - p[1:-1, :-2]
    dv = p[2:, 1:-1] - p[:-2, 1:-1]
    n = np.cross(du, dv)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    n[(n * p[1:-1, 1:-1]).sum(-1) > 0] *= -1
    return n


@pytest.mark.parametrize('layout,index', [('nyud', 0), ('nyud', 1), ('pascal', 0)])
def test_normals_agree_with_depth_on_planes(layout, index):
    m = render_sample(layout, 96, 128, seed=0, index=index)
    normals, depth, inst = m['normals'], m['depth'], m['instance']
    np.testing.assert_allclose(np.linalg.norm(normals, axis=-1), 1, atol=1e-5)
    assert (depth > 0.1).all() and (depth < 15).all()
    # Planar pixels: the whole 3x3 neighbourhood has one instance and one normal.
    planar = np.ones((94, 126), bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            planar &= inst[dy:dy + 94, dx:dx + 126] == inst[1:-1, 1:-1]
            planar &= np.abs(normals[dy:dy + 94, dx:dx + 126] - normals[1:-1, 1:-1]).max(-1) < 1e-4
    assert planar.mean() > 0.5
    est = _cross_product_normals(depth, m['K'])
    cos = (est * normals[1:-1, 1:-1]).sum(-1)[planar]
    angle = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    assert np.percentile(angle, 99) < 1.0, angle.max()


@pytest.mark.parametrize('layout', ['nyud', 'pascal'])
def test_edges_lie_on_label_or_depth_boundaries(layout):
    m = render_sample(layout, 96, 128, seed=0, index=2)
    labels, inst, depth = m['cls'], m['instance'], m['depth']
    edge = boundary_map(labels, inst, depth)
    right = np.zeros_like(edge, dtype=bool)
    right[:, :-1] = labels[:, :-1] != labels[:, 1:]
    down = np.zeros_like(right)
    down[:-1] = labels[:-1] != labels[1:]
    # Every label change is marked ...
    assert edge[right | down].all()
    # ... and every edge pixel is a label change or an occluding (instance + depth) jump.
    near = np.zeros_like(right)
    near[:, :-1] |= (inst[:, :-1] != inst[:, 1:]) & (
        np.abs(depth[:, :-1] - depth[:, 1:]) > 0.04 * np.minimum(depth[:, :-1], depth[:, 1:]))
    near[:-1] |= (inst[:-1] != inst[1:]) & (
        np.abs(depth[:-1] - depth[1:]) > 0.04 * np.minimum(depth[:-1], depth[1:]))
    assert not (edge.astype(bool) & ~(right | down | near)).any()
    assert 0.01 < edge.mean() < 0.3


def test_written_nyud_maps_match_the_rendering(nyud_root):
    """Files hold exactly what was rendered (normals quantised to 8 bits)."""
    m = render_sample('nyud', 48, 64, seed=3, index=1)
    img_id = open(nyud_root / 'gt_sets' / 'train.txt').read().split()[1]
    np.testing.assert_array_equal(np.asarray(Image.open(nyud_root / 'images' / f'{img_id}.png')),
                                  m['image'])
    np.testing.assert_array_equal(np.load(nyud_root / 'depth' / f'{img_id}.npy'), m['depth'])
    normals = np.asarray(Image.open(nyud_root / 'normals' / f'{img_id}.png')) / 127.5 - 1
    np.testing.assert_allclose(normals, m['normals'], atol=1 / 127.5)
    seg = np.asarray(Image.open(nyud_root / 'segmentation' / f'{img_id}.png'))
    # Same scene class -> same NYU label, and void never appears.
    for c in np.unique(m['cls']):
        assert len(np.unique(seg[m['cls'] == c])) == 1
    assert seg.min() >= 1 and seg.max() <= 40


def test_classes_are_learnable_from_colour():
    """A nearest-class-mean colour classifier beats chance by far on unseen scenes."""
    def pixels(indices):
        feats, labels = [], []
        for i in indices:
            m = render_sample('nyud', 48, 64, seed=0, index=i)
            feats.append(m['image'].reshape(-1, 3).astype(np.float64))
            labels.append(m['cls'].ravel())
        return np.concatenate(feats), np.concatenate(labels)
    x, y = pixels(range(12))
    classes = np.unique(y)
    means = np.stack([x[y == c].mean(0) for c in classes])
    xv, yv = pixels(range(100, 104))
    pred = classes[np.argmin(((xv[:, None] - means[None]) ** 2).sum(-1), axis=1)]
    seen = np.isin(yv, classes)
    assert (pred[seen] == yv[seen]).mean() > 0.4
    assert len(classes) >= 6 and len(SCENE_CLASSES) >= len(classes)


def test_cli(tmp_path):
    cli = load_tool('tools/dataset_converters/make_synthetic_scenes.py')
    cli.main(['--layout', 'pascal', '--out', str(tmp_path / 'p'), '--num-train', '2',
              '--num-val', '1', '--size', '24', '32', '--seed', '1'])
    assert len(open(tmp_path / 'p/ImageSets/Context/train.txt').read().split()) == 2
    assert np.asarray(Image.open(next((tmp_path / 'p/JPEGImages').iterdir()))).shape == (24, 32, 3)
    with pytest.raises(SystemExit):
        cli.main(['--layout', 'kitti', '--out', str(tmp_path / 'k')])
