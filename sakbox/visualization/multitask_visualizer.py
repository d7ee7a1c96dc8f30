"""MMEngine visualiser that draws every task of a multi-task data sample side by side."""
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.dist import master_only
from mmengine.visualization import Visualizer

from ..registry import VISUALIZERS
from ..structures.tasks import find_task, task_names
from .colormaps import (
    colorize_depth,
    colorize_gray,
    colorize_labels,
    colorize_normals,
    depth_legend,
    depth_range,
    legend_height,
    text_style,
)

#: Background of captions, gaps and empty tiles (RGB).
BACKGROUND = (32, 32, 32)


@VISUALIZERS.register_module()
class MultiTaskVisualizer(Visualizer):
    """Draw a multi-task data sample as one panel: input | per task GT and prediction.

    Layout: column 0 is the input image, then one column per task (in
    :func:`~sakbox.structures.tasks.task_names` order); the first
    row shows the ground truth, the second the prediction (only one row when
    only one of them is drawn or present). Each tile is captioned with the
    task name; depth tiles get a colour bar with the range in metres (GT and
    prediction share the GT's range so that they are comparable).

    Colour maps follow each task's ``TaskSpec.color``: ``'labels'``
    (``semseg`` / ``human_parts``) use the dataset palette
    (``dataset_meta[spec.palette_key]``: ``palette`` and ``human_parts_palette``,
    a fixed palette otherwise) with ignore (255) black; ``'depth'`` a
    matplotlib colour map, invalid black; ``'normals'`` ``(n + 1) / 2 * 255``,
    zero vectors black; ``'gray'`` (``edge`` / ``sal``) grey.

    Args:
        name: Instance name (MMEngine's :class:`~mmengine.utils.ManagerMixin`).
        image: Optional image to draw on (unused by the panel methods).
        vis_backends: Backend configs, e.g. ``[dict(type='TensorboardVisBackend')]``.
        save_dir: Where backends save their files.
        depth_cmap: Matplotlib colour map of depth, e.g. ``'viridis'``, ``'magma'``.
        gap: Pixels between tiles.
        **kwargs: Passed to :class:`mmengine.visualization.Visualizer`.
    """

    def __init__(self, name: str = 'visualizer', image: Optional[np.ndarray] = None,
                 vis_backends: Optional[Sequence[dict]] = None, save_dir: Optional[str] = None,
                 depth_cmap: str = 'viridis', gap: int = 2, **kwargs) -> None:
        super().__init__(name=name, image=image, vis_backends=vis_backends, save_dir=save_dir,
                         **kwargs)
        self.depth_cmap = depth_cmap
        self.gap = int(gap)

    def set_dataset_meta(self, dataset_meta: Optional[dict]) -> None:
        """Set the dataset meta on every rank (the ``dataset_meta`` setter is master-only)."""
        self._dataset_meta = dict(dataset_meta) if dataset_meta else None

    def task_palette(self, task: str) -> Optional[list]:
        """Palette of a label task from the dataset meta (None: use the fixed palette).

        Args:
            task: A registered task reads its spec's ``palette_key`` (``semseg``:
                ``palette``); others ``<task>_palette``.

        Returns:
            list or None: ``[[R, G, B], ...]``.
        """
        meta = self._dataset_meta or {}
        spec = find_task(task)
        return meta.get(spec.palette_key if spec is not None else f'{task}_palette')

    def colorize(self, task: str, data: np.ndarray,
                 depth_scale: Optional[Tuple[float, float]] = None) -> np.ndarray:
        """Colour one task map.

        Args:
            task: Task name; unknown tasks are drawn as labels (integer maps),
                grey (1-channel float) or normals (3 channels).
            data: (C, H, W) array or tensor as stored in a data sample.
            depth_scale: ``(vmin, vmax)`` of depth maps (default: their own range).

        Returns:
            np.ndarray: (H, W, 3) uint8 RGB.

        Raises:
            ValueError: If the map's shape does not fit the task.
        """
        arr = _to_numpy(data)
        mode = _color_mode(task, arr)
        if mode == 'normals':
            return colorize_normals(arr)
        if arr.ndim == 3 and arr.shape[0] != 1:
            raise ValueError(f'{task} map must be (1, H, W), got shape {tuple(arr.shape)}')
        if mode == 'depth':
            vmin, vmax = depth_scale if depth_scale is not None else depth_range(arr)
            return colorize_depth(arr, vmin, vmax, cmap=self.depth_cmap)
        if mode == 'gray':
            return colorize_gray(arr)
        return colorize_labels(arr, self.task_palette(task))

    def task_images(self, data_sample, draw_gt: bool = True,
                    draw_pred: bool = True) -> Dict[str, np.ndarray]:
        """Colour every ``gt_<task>`` / ``pred_<task>`` of a sample, at the maps' own size.

        Args:
            data_sample: A :class:`~sakbox.structures.MultiTaskDataSample`.
            draw_gt: Include the ground truth.
            draw_pred: Include the predictions.

        Returns:
            dict: ``{'gt_<task>' | 'pred_<task>': (H, W, 3) uint8 RGB}``.
        """
        out = {}
        for task in _tasks(data_sample, draw_gt, draw_pred):
            gt = _field(data_sample, f'gt_{task}') if draw_gt else None
            pred = _field(data_sample, f'pred_{task}') if draw_pred else None
            scale = depth_range(gt, pred) if _is_depth(task) else None
            for prefix, arr in (('gt', gt), ('pred', pred)):
                if arr is not None:
                    out[f'{prefix}_{task}'] = self.colorize(task, arr, scale)
        return out

    def build_panel(self, image: np.ndarray, data_sample=None, draw_gt: bool = True,
                    draw_pred: bool = True) -> np.ndarray:
        """Assemble the panel (see the class docstring).

        Args:
            image: (H, W, 3) uint8 RGB input (or (H, W) grey). Tiles take its size;
                maps of another size are resized (nearest).
            data_sample: A :class:`~sakbox.structures.MultiTaskDataSample` or None.
            draw_gt: Draw the GT row.
            draw_pred: Draw the prediction row.

        Returns:
            np.ndarray: (rows * (cap + H + legend) + gaps, (1 + tasks) * W + gaps, 3)
            uint8 RGB, where ``cap`` is the caption height and ``legend`` the
            depth legend height (0 without depth).

        Raises:
            ValueError: If ``image`` is not (H, W) or (H, W, 3).
        """
        image = _as_rgb(image)
        h, w = image.shape[:2]
        tasks = _tasks(data_sample, draw_gt, draw_pred) if data_sample is not None else []
        rows = [p for p, on in (('gt', draw_gt), ('pred', draw_pred))
                if on and any(_field(data_sample, f'{p}_{t}') is not None for t in tasks)]
        cap = legend_height(w)
        depth_tasks = [t for t in tasks if _is_depth(t)]
        foot = cap if depth_tasks else 0
        coloured = self.task_images(data_sample, draw_gt, draw_pred) if tasks else {}
        scales = {t: depth_range(_field(data_sample, f'gt_{t}') if draw_gt else None,
                                 _field(data_sample, f'pred_{t}') if draw_pred else None)
                  for t in depth_tasks}

        grid: List[List[np.ndarray]] = []
        for r, prefix in enumerate(rows or ['input']):
            row = [self._tile(image if r == 0 else None, 'input' if r == 0 else '', h, w, cap,
                              foot)]
            for task in tasks:
                key = f'{prefix}_{task}'
                label = f'{task} {"GT" if prefix == "gt" else "pred"}'
                legend = scales.get(task) if key in coloured else None
                row.append(self._tile(coloured.get(key), label if key in coloured
                                      else f'{label} (none)', h, w, cap, foot, legend))
            grid.append(row)
        return _stack(grid, self.gap)

    def _tile(self, img: Optional[np.ndarray], label: str, h: int, w: int, cap: int, foot: int,
              legend: Optional[Tuple[float, float]] = None) -> np.ndarray:
        """One captioned tile: (cap + h + foot, w, 3) uint8 RGB."""
        tile = np.empty((cap + h + foot, w, 3), dtype=np.uint8)
        tile[:] = BACKGROUND
        if img is not None:
            if img.shape[:2] != (h, w):
                img = cv2.resize(img, (w, h), interpolation=cv2.INTER_NEAREST)
            tile[cap:cap + h] = img
        if label:
            scale, thick = text_style(cap)
            (_, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
            cv2.putText(tile, label, (3, (cap + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (255, 255, 255), thick, cv2.LINE_AA)
        if legend is not None and foot:
            tile[cap + h:] = depth_legend(w, legend[0], legend[1], self.depth_cmap, height=foot)
        return tile

    @master_only
    def add_datasample(self, name: str, image: np.ndarray, data_sample=None,
                       draw_gt: bool = True, draw_pred: bool = True, show: bool = False,
                       wait_time: float = 0, out_file: Optional[str] = None, step: int = 0,
                       add_to_backends: Optional[bool] = None) -> Optional[np.ndarray]:
        """Draw the panel of a sample, then show, save and/or log it.

        Args:
            name: Image identifier for the backends (e.g. ``val_<img_id>``).
            image: (H, W, 3) uint8 RGB input image.
            data_sample: A :class:`~sakbox.structures.MultiTaskDataSample`.
            draw_gt: Draw the ground truth.
            draw_pred: Draw the predictions.
            show: Show the panel in a window.
            wait_time: Seconds to wait when showing (0: until a key press).
            out_file: Write the panel to this file (PNG/JPEG by extension).
            step: Global step for the backends.
            add_to_backends: Send the panel to the vis backends (``add_image``,
                e.g. TensorBoard). Default: only when no ``out_file`` is given,
                as in MMSegmentation, so that ``--show-dir`` runs do not copy every
                panel into the event files.

        Returns:
            np.ndarray: The (H', W', 3) uint8 RGB panel (None on non-master ranks).
        """
        panel = self.build_panel(image, data_sample, draw_gt=draw_gt, draw_pred=draw_pred)
        if show:
            self.show(panel, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(panel), out_file)
        if add_to_backends if add_to_backends is not None else out_file is None:
            self.add_image(name, panel, step)
        return panel


def _to_numpy(data) -> np.ndarray:
    if hasattr(data, 'detach'):
        data = data.detach().cpu().numpy()
    return np.asarray(data)


def _field(data_sample, key: str) -> Optional[np.ndarray]:
    """``data_sample.<key>.data`` as numpy, or None when absent."""
    if data_sample is None or key not in data_sample:
        return None
    value = getattr(data_sample, key)
    return _to_numpy(value.data if hasattr(value, 'data') else value)


def _tasks(data_sample, draw_gt: bool, draw_pred: bool) -> List[str]:
    """Tasks to draw, in canonical order: those with a GT or prediction field that is drawn."""
    keys = set(data_sample.keys())
    prefixes = [p for p, on in (('gt_', draw_gt), ('pred_', draw_pred)) if on]
    found = {k[len(p):] for k in keys for p in prefixes
             if k.startswith(p) and getattr(data_sample, k) is not None
             and hasattr(getattr(data_sample, k), 'data')}
    found.discard('label')  # image-level class label of classification lists, not a map
    names = task_names()
    return [t for t in names if t in found] + sorted(found - set(names))


def _color_mode(task: str, arr: np.ndarray) -> str:
    """The spec's colour mode; unregistered tasks by shape and dtype."""
    spec = find_task(task)
    if spec is not None:
        return spec.color
    if arr.ndim == 3 and arr.shape[0] == 3:
        return 'normals'
    return 'gray' if np.issubdtype(arr.dtype, np.floating) else 'labels'


def _is_depth(task: str) -> bool:
    """Whether ``task`` is drawn with the depth colour map (and gets a legend)."""
    spec = find_task(task)
    return spec is not None and spec.color == 'depth'


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = _to_numpy(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise ValueError(f'image must be (H, W, 3) RGB or (H, W), got shape {image.shape}')
    return np.ascontiguousarray(image[..., :3]).astype(np.uint8)


def _stack(grid: List[List[np.ndarray]], gap: int) -> np.ndarray:
    """Join equally sized tiles into one image with ``gap`` background pixels between them."""
    th, tw = grid[0][0].shape[:2]
    cols = max(len(r) for r in grid)
    out = np.empty((len(grid) * th + (len(grid) - 1) * gap, cols * tw + (cols - 1) * gap, 3),
                   dtype=np.uint8)
    out[:] = BACKGROUND
    for r, row in enumerate(grid):
        for c, tile in enumerate(row):
            y, x = r * (th + gap), c * (tw + gap)
            out[y:y + th, x:x + tw] = tile
    return out
