"""Draw multi-task panels during validation (to TensorBoard) and testing (to files)."""
import os.path as osp
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine.hooks import Hook

from sakbox.registry import HOOKS
from sakbox.structures import image_region
from sakbox.visualization import MultiTaskVisualizer
from sakbox.visualization.colormaps import soft_map_to_uint8


@HOOKS.register_module()
class MultiTaskVisualizationHook(Hook):
    """Visualise the predictions of every task.

    * **Validation**: every ``interval``-th validation run, the panels
      (input | GT | prediction per task) of the first ``max_panels`` samples
      of this rank are sent to the runner's visualizer backends (TensorBoard,
      local files) as ``val_<img_id>`` at the current training iteration.
    * **Test** with ``enable=True`` and ``out_dir``: for every sample, the panel
      is written to ``<out_dir>/<img_id>.png`` and each predicted task alone
      to ``<out_dir>/<task>/<img_id>.png`` (colour-mapped, at the original
      image size, no legend). Every rank writes its own samples.
    * **Test** with ``edge_png_dir``: the soft edge map ``pred_edge`` (in
      [0, 1]) is written as an 8-bit grey PNG ``<edge_png_dir>/<img_id>.png``
      (``round(p * 255)``), the input that SEISM / the BSDS benchmark reads.
      Independent of ``enable``.

    The input image is read from the sample's ``img_path`` (mmcv.imread) and
    resized to ``ori_shape`` if needed; samples without ``img_path`` fall back
    to the batch's input tensor. Relative directories are used as given
    (relative to the working directory).

    If the runner's visualizer is a :class:`~sakbox.visualization.MultiTaskVisualizer`
    it draws the panels; otherwise (e.g. a plain ``Visualizer``) the hook draws
    with its own and logs through the runner's visualizer's ``add_image``.

    Args:
        interval: Log panels every ``interval`` validation runs. Default: 1.
        max_panels: Panels logged per validation run. Default: 4.
        enable: Write test-time panels to ``out_dir``. Default: False.
        out_dir: Directory of the test-time panels and per-task images.
        edge_png_dir: Directory of the test-time 8-bit soft edge PNGs.
        draw_gt: Draw the ground truth row. Default: True.
        draw_pred: Draw the prediction row. Default: True.
        save_task_images: Also write ``<out_dir>/<task>/<img_id>.png``. Default: True.
        depth_cmap: Depth colour map of the hook's own visualizer.
    """

    priority = 'NORMAL'

    def __init__(self, interval: int = 1, max_panels: int = 4, enable: bool = False,
                 out_dir: Optional[str] = None, edge_png_dir: Optional[str] = None,
                 draw_gt: bool = True, draw_pred: bool = True, save_task_images: bool = True,
                 depth_cmap: str = 'viridis') -> None:
        if interval < 1:
            raise ValueError(f'MultiTaskVisualizationHook: interval must be >= 1, got {interval}')
        if max_panels < 0:
            raise ValueError(f'MultiTaskVisualizationHook: max_panels must be >= 0, '
                             f'got {max_panels}')
        if enable and not out_dir:
            raise ValueError('MultiTaskVisualizationHook: enable=True needs out_dir '
                             '(the directory of the test-time panels)')
        self.interval = interval
        self.max_panels = max_panels
        self.enable = enable
        self.out_dir = out_dir
        self.edge_png_dir = edge_png_dir
        self.draw_gt = draw_gt
        self.draw_pred = draw_pred
        self.save_task_images = save_task_images
        self.depth_cmap = depth_cmap
        self._val_runs = 0
        self._logged = 0
        self._own: Optional[MultiTaskVisualizer] = None

    # ----------------------------------------------------------------- helpers
    def _drawer(self, runner, dataloader=None) -> MultiTaskVisualizer:
        """The visualiser that draws panels, with the current dataset's meta."""
        vis = getattr(runner, 'visualizer', None)
        if not isinstance(vis, MultiTaskVisualizer):
            if self._own is None:
                self._own = MultiTaskVisualizer(name=f'sakbox_vis_hook_{id(self)}',
                                                depth_cmap=self.depth_cmap)
            vis = self._own
        meta = getattr(getattr(dataloader, 'dataset', None), 'metainfo', None)
        if meta is None and runner is not None and getattr(runner, 'visualizer', None):
            meta = getattr(runner.visualizer, '_dataset_meta', None)
        if meta is not None:
            vis.set_dataset_meta(meta)
        return vis

    @staticmethod
    def _image(sample, inputs=None) -> np.ndarray:
        """(H, W, 3) uint8 RGB image of ``sample`` at its ``ori_shape``."""
        meta = sample.metainfo
        path = meta.get('img_path')
        if path and osp.isfile(path):
            img = mmcv.imread(path, channel_order='rgb')
        elif inputs is not None:
            # The packed input is BGR uint8 (3, H, W), possibly resized / padded
            # (the pipeline's padding, not the data preprocessor's).
            arr = inputs.detach().cpu().numpy() if hasattr(inputs, 'detach') else inputs
            img = np.ascontiguousarray(np.asarray(arr).transpose(1, 2, 0)[..., ::-1])
            top, left, h, w = image_region(meta, img.shape[:2], frame='packed')
            img = img[top:top + h, left:left + w]
            img = np.clip(img, 0, 255).astype(np.uint8)
        else:
            raise FileNotFoundError(f'MultiTaskVisualizationHook: image {path!r} of sample '
                                    f'{meta.get("img_id")!r} not found and no input tensor')
        ori = meta.get('ori_shape')
        if ori is not None and tuple(img.shape[:2]) != tuple(ori[:2]):
            img = mmcv.imresize(img, (int(ori[1]), int(ori[0])))
        return img

    @staticmethod
    def _name(sample, fallback: str) -> str:
        meta = sample.metainfo
        if meta.get('img_id') is not None:
            return str(meta['img_id'])
        if meta.get('img_path'):
            return osp.splitext(osp.basename(meta['img_path']))[0]
        return fallback

    @staticmethod
    def _inputs(data_batch, i: int):
        inputs = data_batch.get('inputs') if isinstance(data_batch, dict) else None
        return inputs[i] if inputs is not None and i < len(inputs) else None

    # ------------------------------------------------------------------- hooks
    def before_val_epoch(self, runner) -> None:
        """Count validation runs and reset the per-run panel budget."""
        self._val_runs += 1
        self._logged = 0

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs: Optional[Sequence] = None) -> None:
        """Log the first ``max_panels`` panels of every ``interval``-th validation run."""
        if (self._val_runs - 1) % self.interval or self._logged >= self.max_panels:
            return
        if not outputs:
            return
        drawer = self._drawer(runner, getattr(runner, 'val_dataloader', None))
        for i, sample in enumerate(outputs):
            if self._logged >= self.max_panels:
                break
            name = self._name(sample, f'{batch_idx}_{i}')
            panel = drawer.build_panel(self._image(sample, self._inputs(data_batch, i)), sample,
                                       draw_gt=self.draw_gt, draw_pred=self.draw_pred)
            # No '/' in the name: LocalVisBackend writes '<name>_<step>.png' into one folder.
            runner.visualizer.add_image(f'val_{name.replace("/", "_")}', panel, step=runner.iter)
            self._logged += 1

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        """Write panels, per-task images and soft edge PNGs of the batch."""
        if not outputs or not (self.enable or self.edge_png_dir):
            return
        drawer = self._drawer(runner, getattr(runner, 'test_dataloader', None)) \
            if self.enable else None
        for i, sample in enumerate(outputs):
            name = self._name(sample, f'{batch_idx}_{i}')
            if self.edge_png_dir and 'pred_edge' in sample:
                edge = sample.pred_edge.data
                edge = edge.detach().cpu().numpy() if hasattr(edge, 'detach') else edge
                mmcv.imwrite(soft_map_to_uint8(edge), osp.join(self.edge_png_dir, f'{name}.png'))
            if not self.enable:
                continue
            image = self._image(sample, self._inputs(data_batch, i))
            panel = drawer.build_panel(image, sample, draw_gt=self.draw_gt,
                                       draw_pred=self.draw_pred)
            mmcv.imwrite(mmcv.rgb2bgr(panel), osp.join(self.out_dir, f'{name}.png'))
            if self.save_task_images:
                for key, img in drawer.task_images(sample, draw_gt=False).items():
                    task = key[len('pred_'):]
                    mmcv.imwrite(mmcv.rgb2bgr(img), osp.join(self.out_dir, task, f'{name}.png'))
