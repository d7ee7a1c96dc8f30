"""MultiTaskVisualizer: panel layout, colours, palettes from the dataset meta, outputs."""

import cv2
import numpy as np
import pytest
import torch

from sakbox.registry import VISUALIZERS
from sakbox.structures import MultiTaskDataSample, task_names
from sakbox.visualization import MultiTaskVisualizer, colorize_labels, colorize_normals
from sakbox.visualization.colormaps import legend_height
from sakbox.visualization.save_prediction import save_prediction

H, W = 24, 40
_count = [0]


def make_vis(**kwargs) -> MultiTaskVisualizer:
    _count[0] += 1
    return MultiTaskVisualizer(name=f'test_mtvis_{_count[0]}', **kwargs)


def make_sample(tasks=('semseg', 'depth', 'normals', 'edge'), gt=True, pred=True):
    g = torch.Generator().manual_seed(0)
    s = MultiTaskDataSample(metainfo=dict(img_id='s0', ori_shape=(H, W)))
    for t in tasks:
        if t in ('semseg', 'human_parts'):
            maps = [torch.randint(0, 6, (1, H, W), generator=g) for _ in range(2)]
        elif t == 'depth':
            d = torch.linspace(0.5, 4.0, W).expand(1, H, W).clone()
            maps = [d, d * 1.1]
        elif t == 'normals':
            n = torch.randn(3, H, W, generator=g)
            maps = [n / n.norm(dim=0, keepdim=True)] * 2
        else:
            maps = [torch.randint(0, 2, (1, H, W), generator=g), torch.rand(1, H, W, generator=g)]
        if gt:
            s.set_gt(t, maps[0])
        if pred:
            s.set_pred(t, maps[1])
    return s


def image():
    return np.random.RandomState(0).randint(0, 255, (H, W, 3), dtype=np.uint8)


def test_registered():
    assert VISUALIZERS.get('MultiTaskVisualizer') is MultiTaskVisualizer


@pytest.mark.parametrize('tasks', [('semseg', 'depth', 'normals', 'edge'),
                                   ('semseg', 'human_parts', 'normals', 'edge', 'sal')])
def test_panel_shape_and_tiles(tasks):
    vis, s = make_vis(gap=2), make_sample(tasks)
    img = image()
    panel = vis.build_panel(img, s)
    cap = legend_height(W)
    foot = cap if 'depth' in tasks else 0
    th = cap + H + foot
    assert panel.shape == (2 * th + 2, (1 + len(tasks)) * W + len(tasks) * 2, 3)
    assert panel.dtype == np.uint8
    # Input tile: the image under its caption.
    np.testing.assert_array_equal(panel[cap:cap + H, :W], img)
    # semseg pred tile (row 1, column 1) is the colourised prediction.
    y, x = th + 2 + cap, W + 2
    np.testing.assert_array_equal(panel[y:y + H, x:x + W], colorize_labels(s.pred_semseg.data))
    # normals GT tile (row 0) is the normal colouring; columns follow the canonical order.
    c = 1 + [t for t in task_names() if t in tasks].index('normals')
    x = c * (W + 2)
    np.testing.assert_array_equal(panel[cap:cap + H, x:x + W],
                                  colorize_normals(s.gt_normals.data.numpy()))


def test_panel_depth_tiles_share_the_gt_range_and_have_legends():
    vis = make_vis()
    s = make_sample(('depth', ))
    panel = vis.build_panel(image(), s)
    cap = legend_height(W)
    th = 2 * cap + H
    gt_tile = panel[cap:cap + H, W + 2:2 * W + 2]
    pred_tile = panel[th + 2 + cap:th + 2 + cap + H, W + 2:2 * W + 2]
    # pred = 1.1 * gt, clipped to the GT's range: its far end saturates earlier.
    assert (gt_tile[:, -1] == pred_tile[:, -1]).all()
    assert (gt_tile[:, W // 2] != pred_tile[:, W // 2]).any()
    legend = panel[cap + H:th, W + 2:2 * W + 2]
    assert (legend == 255).all(-1).any()  # range text


def test_single_row_without_gt_and_missing_fields():
    vis = make_vis()
    s = make_sample(('semseg', 'edge'), gt=False)
    panel = vis.build_panel(image(), s)
    cap = legend_height(W)
    assert panel.shape[:2] == (cap + H, 3 * W + 4)
    only_gt = make_sample(('semseg', ), pred=False)
    assert vis.build_panel(image(), only_gt, draw_gt=False).shape[:2] == (cap + H, W)


def test_maps_of_another_size_are_resized_to_the_image():
    vis = make_vis()
    s = MultiTaskDataSample()
    s.set_pred('semseg', torch.zeros(1, H // 2, W // 2, dtype=torch.long))
    big = np.zeros((H, W, 3), np.uint8)
    panel = vis.build_panel(big, s, draw_gt=False)
    cap = legend_height(W)
    tile = panel[cap:cap + H, W + 2:]
    assert (tile == vis.colorize('semseg', torch.zeros(1, 1, 1, dtype=torch.long))[0, 0]).all()


def test_dataset_palettes_from_meta():
    vis = make_vis()
    vis.set_dataset_meta(dict(palette=[[1, 2, 3]] * 6, human_parts_palette=[[9, 8, 7]] * 6))
    lab = torch.zeros(1, 2, 2, dtype=torch.long)
    assert vis.colorize('semseg', lab)[0, 0].tolist() == [1, 2, 3]
    assert vis.colorize('human_parts', lab)[0, 0].tolist() == [9, 8, 7]
    lab[0, 0, 0] = 255
    assert vis.colorize('semseg', lab)[0, 0].tolist() == [0, 0, 0]


def test_task_images_keys():
    vis = make_vis()
    out = vis.task_images(make_sample(('semseg', 'normals')), draw_gt=False)
    assert sorted(out) == ['pred_normals', 'pred_semseg']
    assert all(v.shape == (H, W, 3) for v in out.values())


def test_add_datasample_writes_file_and_logs_to_backends(tmp_path):
    vis = make_vis(vis_backends=[dict(type='LocalVisBackend')], save_dir=str(tmp_path / 'wd'))
    s = make_sample()
    out_file = tmp_path / 'panel.png'
    panel = vis.add_datasample('x', image(), s, out_file=str(out_file))
    written = cv2.imread(str(out_file))[..., ::-1]
    np.testing.assert_array_equal(written, panel)
    backend_dir = tmp_path / 'wd' / 'vis_data' / 'vis_image'
    assert not backend_dir.exists() or not list(backend_dir.iterdir())
    vis.add_datasample('val_x', image(), s, step=7)
    logged = cv2.imread(str(backend_dir / 'val_x_7.png'))[..., ::-1]
    np.testing.assert_array_equal(logged, panel)


def test_save_prediction(tmp_path):
    img_path = tmp_path / 'cat.png'
    cv2.imwrite(str(img_path), image())
    written = save_prediction(str(img_path), make_sample(gt=False), str(tmp_path / 'out'))
    assert written['panel'] == str(tmp_path / 'out' / 'cat.png')
    assert sorted(k for k in written if k != 'panel') == ['depth', 'edge', 'normals', 'semseg']
    for task in ('semseg', 'depth', 'normals', 'edge'):
        assert cv2.imread(str(tmp_path / 'out' / task / 'cat.png')).shape == (H, W, 3)
    assert cv2.imread(written['panel']).shape[1] == 5 * W + 8
