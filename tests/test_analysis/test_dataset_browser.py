"""sakbox.analysis.dataset_browser on synthetic NYUD-v2 / PASCAL-Context scenes."""
import os.path as osp

import mmcv
import numpy as np
import pytest

from sakbox.analysis.dataset_browser import (
    browse_dataset,
    build_browse_visualizer,
    build_split_dataset,
    packed_image,
)
from sakbox.structures.tasks import task_names
from sakbox.utils.cli import load_config
from sakbox.visualization.colormaps import legend_height
from tests.test_datasets.conftest import SIZE, pascal_root  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = dict(nyud='configs/sak/sak_vit-tiny_synthetic-nyud.py',
               pascal='configs/sak/sak_vit-tiny_synthetic-pascal.py')


def _cfg(layout, root, split):
    return load_config(osp.join(ROOT, CONFIGS[layout]),
                       {f'{split}_dataloader.dataset.data_root': str(root)})


def _tasks(sample):
    return [t for t in task_names() if f'gt_{t}' in sample]


def _split_tiles(panel, num_tiles, gap, cap, foot):
    """The image areas of the tiles of a one-row panel: (h, w, 3) each."""
    width = (panel.shape[1] - (num_tiles - 1) * gap) / num_tiles
    assert width == int(width), 'tiles must share one width'
    w = int(width)
    h = panel.shape[0] - cap - foot
    return [panel[cap:cap + h, k * (w + gap):k * (w + gap) + w] for k in range(num_tiles)]


@pytest.mark.parametrize('layout', ['nyud', 'pascal'])
def test_val_panels_hold_the_image_and_every_gt_colourised(layout, request, tmp_path):
    root = request.getfixturevalue(f'{layout}_root')
    cfg = _cfg(layout, root, 'val')
    dataset = build_split_dataset(cfg, 'val')
    vis = build_browse_visualizer(cfg, dataset.metainfo)
    written = browse_dataset(dataset, vis, output_dir=str(tmp_path))
    assert len(written) == len(dataset) == 2
    for i, path in enumerate(written):
        item = dataset[i]  # the val pipeline has no randomness: the same sample again
        sample = item['data_samples']
        assert osp.basename(path) == f'{i}_{sample.img_id}.png' and osp.isfile(path)
        panel = mmcv.imread(path, channel_order='rgb')
        tasks = _tasks(sample)
        assert len(tasks) == (4 if layout == 'nyud' else 5)
        h, w = SIZE
        cap = legend_height(w)
        foot = cap if 'depth' in tasks else 0
        assert panel.shape == (cap + h + foot, (1 + len(tasks)) * w + len(tasks) * vis.gap, 3)
        tiles = _split_tiles(panel, 1 + len(tasks), vis.gap, cap, foot)
        np.testing.assert_array_equal(tiles[0], mmcv.imread(sample.img_path, channel_order='rgb'))
        for task, tile in zip(tasks, tiles[1:]):
            gt = getattr(sample, f'gt_{task}').data
            np.testing.assert_array_equal(tile, vis.colorize(task, gt), err_msg=task)
            assert len(np.unique(tile.reshape(-1, 3), axis=0)) > 1, f'{task} GT tile is blank'


def test_train_panels_are_augmented_samples_with_non_blank_gt(nyud_root, tmp_path):
    cfg = _cfg('nyud', nyud_root, 'train')
    dataset = build_split_dataset(cfg, 'train')
    vis = build_browse_visualizer(cfg, dataset.metainfo)
    written = browse_dataset(dataset, vis, output_dir=str(tmp_path / 'out'), max_samples=3)
    assert [osp.basename(p)[:2] for p in written] == ['0_', '1_', '2_']
    cap = legend_height(1)  # the captions of tiles narrower than 280 px are 14 px
    for path in written:
        panel = mmcv.imread(path, channel_order='rgb')
        tiles = _split_tiles(panel, 5, vis.gap, cap, cap)
        assert tiles[0].shape[0] > 0
        for task, tile in zip(['semseg', 'depth', 'normals', 'edge'], tiles[1:]):
            assert len(np.unique(tile.reshape(-1, 3), axis=0)) > 1, f'{task} GT tile is blank'


def test_packed_image_is_rgb_and_bad_inputs_raise(nyud_root):
    bgr = np.zeros((3, 4, 5), dtype=np.uint8)
    bgr[0] = 10  # blue
    assert packed_image(bgr)[..., 2].tolist() == [[10] * 5] * 4
    with pytest.raises(ValueError, match=r'\(3, H, W\), got shape \(4, 5\)'):
        packed_image(np.zeros((4, 5)))
    cfg = _cfg('nyud', nyud_root, 'val')
    with pytest.raises(ValueError, match='nothing to do'):
        browse_dataset([], build_browse_visualizer(cfg, None))
    cfg.test_dataloader = None
    with pytest.raises(KeyError, match=r"no test_dataloader\.dataset \(splits with a dataset: "
                       r"\['train', 'val'\]\)"):
        build_split_dataset(cfg, 'test')
