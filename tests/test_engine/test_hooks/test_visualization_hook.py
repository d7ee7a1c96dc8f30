"""MultiTaskVisualizationHook: validation panels to the backends, test-time files, edge PNGs."""
import types

import cv2
import numpy as np
import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel
from mmengine.runner import Runner

from sakbox.engine.hooks import MultiTaskVisualizationHook
from sakbox.registry import HOOKS
from sakbox.structures import MultiTaskDataSample
from sakbox.visualization import MultiTaskVisualizer, colorize_labels
from sakbox.visualization.colormaps import legend_height

H, W = 20, 30
_count = [0]


class _Recorder:
    """A stand-in for a plain (non multi-task) visualizer: records add_image calls."""

    def __init__(self):
        self.images = []
        self._dataset_meta = None

    def add_image(self, name, image, step=0):
        self.images.append((name, image, step))


def make_runner(visualizer=None, metainfo=None, it=0):
    loader = types.SimpleNamespace(dataset=types.SimpleNamespace(metainfo=metainfo or {}))
    return types.SimpleNamespace(visualizer=visualizer or _Recorder(), iter=it,
                                 val_dataloader=loader, test_dataloader=loader)


def make_sample(tmp_path, idx, with_path=True, edge=None):
    img = np.full((H, W, 3), 40 * idx, np.uint8)
    meta = dict(img_id=f'{idx:06d}', ori_shape=(H, W), img_shape=(H, W))
    if with_path:
        meta['img_path'] = str(tmp_path / f'img{idx}.png')
        cv2.imwrite(meta['img_path'], img)
    s = MultiTaskDataSample(metainfo=meta)
    labels = torch.arange(H * W).reshape(1, H, W) % 3
    s.set_gt('semseg', labels)
    s.set_pred('semseg', (labels + 1) % 3)
    s.set_gt('depth', torch.full((1, H, W), 2.0))
    s.set_pred('depth', torch.full((1, H, W), 2.5))
    s.set_gt('edge', torch.zeros(1, H, W, dtype=torch.long))
    s.set_pred('edge', torch.rand(1, H, W) if edge is None else edge)
    return s, img


def test_registered_and_validates_args():
    assert HOOKS.get('MultiTaskVisualizationHook') is MultiTaskVisualizationHook
    with pytest.raises(ValueError, match='interval'):
        MultiTaskVisualizationHook(interval=0)
    with pytest.raises(ValueError, match='out_dir'):
        MultiTaskVisualizationHook(enable=True)


def test_val_logs_first_panels_every_interval(tmp_path):
    hook = MultiTaskVisualizationHook(interval=2, max_panels=3)
    runner = make_runner(it=11)
    batches = [[make_sample(tmp_path, 2 * b + i)[0] for i in range(2)] for b in range(2)]
    logged_per_run = []
    for _ in range(3):
        before = len(runner.visualizer.images)
        hook.before_val_epoch(runner)
        for b, outputs in enumerate(batches):
            hook.after_val_iter(runner, b, dict(inputs=None), outputs)
        logged_per_run.append(len(runner.visualizer.images) - before)
    assert logged_per_run == [3, 0, 3]
    names = [n for n, _, _ in runner.visualizer.images[:3]]
    assert names == ['val_000000', 'val_000001', 'val_000002']
    name, panel, step = runner.visualizer.images[0]
    assert step == 11
    cap = legend_height(W)
    assert panel.shape == (2 * (2 * cap + H) + 2, 4 * W + 6, 3)
    # The input tile is the image read from img_path (RGB).
    np.testing.assert_array_equal(panel[cap:cap + H, :W], np.zeros((H, W, 3), np.uint8))


def test_val_uses_the_runner_multitask_visualizer(tmp_path):
    _count[0] += 1
    vis = MultiTaskVisualizer(name=f'hook_vis_{_count[0]}',
                              vis_backends=[dict(type='LocalVisBackend')],
                              save_dir=str(tmp_path / 'wd'))
    hook = MultiTaskVisualizationHook(max_panels=1)
    runner = make_runner(vis, metainfo=dict(palette=[[1, 2, 3], [4, 5, 6], [7, 8, 9]]), it=5)
    hook.before_val_epoch(runner)
    sample, _ = make_sample(tmp_path, 1)
    hook.after_val_iter(runner, 0, None, [sample])
    logged = cv2.imread(str(tmp_path / 'wd' / 'vis_data' / 'vis_image' / 'val_000001_5.png'))
    cap = legend_height(W)
    gt_tile = logged[cap:cap + H, W + 2:2 * W + 2, ::-1]
    np.testing.assert_array_equal(gt_tile, colorize_labels(sample.gt_semseg.data,
                                                           [[1, 2, 3], [4, 5, 6], [7, 8, 9]]))


def test_test_writes_panels_task_images_and_edge_pngs(tmp_path):
    out_dir, edge_dir = tmp_path / 'show', tmp_path / 'edges'
    hook = MultiTaskVisualizationHook(enable=True, out_dir=str(out_dir),
                                      edge_png_dir=str(edge_dir))
    runner = make_runner()
    edge = torch.tensor([0.0, 0.25, 0.5, 1.0]).repeat(H * W // 4).reshape(1, H, W)
    samples = [make_sample(tmp_path, 0, edge=edge)[0], make_sample(tmp_path, 1)[0]]
    hook.after_test_iter(runner, 0, dict(inputs=None), samples)
    cap = legend_height(W)
    for s in samples:
        name = s.metainfo['img_id']
        panel = cv2.imread(str(out_dir / f'{name}.png'))
        assert panel.shape == (2 * (2 * cap + H) + 2, 4 * W + 6, 3)
        for task in ('semseg', 'depth', 'edge'):
            assert cv2.imread(str(out_dir / task / f'{name}.png')).shape == (H, W, 3)
        png = cv2.imread(str(edge_dir / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint8 and png.shape == (H, W)
        expected = np.round(s.pred_edge.data[0].numpy() * 255).astype(np.uint8)
        np.testing.assert_array_equal(png, expected)
    first = cv2.imread(str(edge_dir / '000000.png'), cv2.IMREAD_UNCHANGED)
    assert first[0, :4].tolist() == [0, 64, 128, 255]
    semseg = cv2.imread(str(out_dir / 'semseg' / '000000.png'))[..., ::-1]
    np.testing.assert_array_equal(semseg, colorize_labels(samples[0].pred_semseg.data))


def test_edge_pngs_only_when_not_enabled(tmp_path):
    edge_dir = tmp_path / 'edges'
    hook = MultiTaskVisualizationHook(enable=False, edge_png_dir=str(edge_dir))
    hook.after_test_iter(make_runner(), 0, None, [make_sample(tmp_path, 3)[0]])
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ['edges']
    assert (edge_dir / '000003.png').is_file()


def test_image_from_inputs_and_resized_to_ori_shape(tmp_path):
    hook = MultiTaskVisualizationHook(enable=True, out_dir=str(tmp_path / 'show'))
    sample, _ = make_sample(tmp_path, 0, with_path=False)
    # The packed input is BGR (3, h, w) at half resolution; blue only.
    inputs = torch.zeros(3, H // 2, W // 2, dtype=torch.uint8)
    inputs[0] = 200
    sample.set_metainfo(dict(img_shape=(H // 2, W // 2)))
    hook.after_test_iter(make_runner(), 0, dict(inputs=[inputs]), [sample])
    panel = cv2.imread(str(tmp_path / 'show' / '000000.png'))  # BGR
    cap = legend_height(W)
    tile = panel[cap:cap + H, :W]
    assert (tile[..., 0] == 200).all() and (tile[..., 1:] == 0).all()


class _Data(torch.utils.data.Dataset):
    metainfo = dict(palette=[[10, 20, 30], [40, 50, 60], [70, 80, 90]])

    def __init__(self, root):
        self.items = [make_sample(root, i) for i in range(3)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        sample, img = self.items[i]
        return dict(inputs=torch.from_numpy(img).permute(2, 0, 1), data_samples=sample)


class _Model(BaseModel):
    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return list(data_samples)


class _NoMetric(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        return dict(dummy=0.0)


def test_with_an_mmengine_runner(tmp_path):
    _count[0] += 1
    loader = dict(dataset=_Data(tmp_path), batch_size=2, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(
                      type='pseudo_collate'))
    runner = Runner(
        model=_Model(), work_dir=str(tmp_path / 'wd'), default_scope='sakbox',
        val_dataloader=loader, val_cfg=dict(), val_evaluator=Evaluator(_NoMetric()),
        test_dataloader=loader, test_cfg=dict(), test_evaluator=Evaluator(_NoMetric()),
        visualizer=dict(type='MultiTaskVisualizer', name=f'runner_vis_{_count[0]}',
                        vis_backends=[dict(type='LocalVisBackend')]),
        custom_hooks=[dict(type='MultiTaskVisualizationHook', max_panels=2, enable=True,
                           out_dir=str(tmp_path / 'show'), edge_png_dir=str(tmp_path / 'e'))],
        default_hooks=dict(logger=None, checkpoint=None), experiment_name=f'vis{_count[0]}')
    runner.val()
    logged = sorted(p.name for p in (tmp_path / 'wd').rglob('vis_image/*.png'))
    assert logged == ['val_000000_0.png', 'val_000001_0.png']
    runner.test()
    assert sorted(p.name for p in (tmp_path / 'show').glob('*.png')) == [
        '000000.png', '000001.png', '000002.png']
    assert len(list((tmp_path / 'e').glob('*.png'))) == 3
    semseg = cv2.imread(str(tmp_path / 'show' / 'semseg' / '000002.png'))[..., ::-1]
    np.testing.assert_array_equal(
        semseg, colorize_labels(runner.test_dataloader.dataset.items[2][0].pred_semseg.data,
                                _Data.metainfo['palette']))
