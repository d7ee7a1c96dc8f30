"""Draw what a dataset pipeline produces: the logic of ``browse_dataset.py``.

Each sample runs through its split's pipeline (augmentations included) and the
packed image is drawn with the ground truth of every task by
:class:`~sakbox.visualization.MultiTaskVisualizer`, one panel per sample.
"""
import itertools
import os.path as osp
from typing import List, Optional

import numpy as np
from mmengine.config import Config
from mmengine.registry import DefaultScope

from sakbox.registry import DATASETS
from sakbox.visualization import MultiTaskVisualizer

__all__ = ['SPLITS', 'build_split_dataset', 'build_browse_visualizer', 'packed_image',
           'browse_dataset']

SPLITS = ('train', 'val', 'test')
_INSTANCES = itertools.count()


def build_split_dataset(cfg: Config, split: str):
    """Build the dataset of ``<split>_dataloader`` with its pipeline.

    Args:
        cfg (Config): A full config.
        split (str): ``'train'``, ``'val'`` or ``'test'``.

    Returns:
        The dataset (indexing it runs the pipeline).

    Raises:
        KeyError: The config has no ``<split>_dataloader.dataset``.
    """
    if split not in SPLITS:
        raise KeyError(f'split must be one of {SPLITS}, got {split!r}')
    loader = cfg.get(f'{split}_dataloader') or {}
    dataset_cfg = loader.get('dataset')
    if not dataset_cfg:
        found = [s for s in SPLITS if (cfg.get(f'{s}_dataloader') or {}).get('dataset')]
        raise KeyError(f'{cfg.filename or "the config"} has no {split}_dataloader.dataset '
                       f'(splits with a dataset: {found or "none"})')
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'sakbox')):
        return DATASETS.build(dataset_cfg)


def build_browse_visualizer(cfg: Config, dataset_meta: Optional[dict]) -> MultiTaskVisualizer:
    """A visualiser without backends, with the config's depth colour map and ``gap``.

    Args:
        cfg (Config): A full config; its ``visualizer`` settings are used when it is a
            ``MultiTaskVisualizer``.
        dataset_meta (dict, optional): The dataset's meta (palettes).

    Returns:
        MultiTaskVisualizer: The drawer.
    """
    vis_cfg = cfg.get('visualizer') or {}
    kwargs = {}
    if vis_cfg.get('type') == 'MultiTaskVisualizer':
        kwargs = {k: vis_cfg[k] for k in ('depth_cmap', 'gap') if k in vis_cfg}
    # A fresh instance name: MMEngine keeps visualisers by name for the process.
    vis = MultiTaskVisualizer(name=f'browse_dataset_{next(_INSTANCES)}', **kwargs)
    vis.set_dataset_meta(dataset_meta)
    return vis


def packed_image(inputs) -> np.ndarray:
    """The (H, W, 3) uint8 RGB image of a packed (3, H, W) BGR input."""
    arr = inputs.detach().cpu().numpy() if hasattr(inputs, 'detach') else np.asarray(inputs)
    if arr.ndim != 3 or arr.shape[0] != 3:
        raise ValueError(f'packed inputs must be (3, H, W), got shape {tuple(arr.shape)}')
    return np.ascontiguousarray(np.clip(arr.transpose(1, 2, 0)[..., ::-1], 0, 255)
                                .astype(np.uint8))


def browse_dataset(dataset, visualizer: MultiTaskVisualizer, output_dir: Optional[str] = None,
                   show: bool = False, show_interval: float = 2.0,
                   max_samples: Optional[int] = None) -> List[str]:
    """Draw the augmented image and every task's GT of each sample.

    Args:
        dataset: A dataset whose items are ``dict(inputs=(3, H, W) uint8 BGR,
            data_samples=MultiTaskDataSample)`` (``PackMultiTaskInputs``).
        visualizer (MultiTaskVisualizer): The drawer (see :func:`build_browse_visualizer`).
        output_dir (str, optional): Write ``<index>_<img_id>.png`` panels here.
        show (bool): Show each panel in a window.
        show_interval (float): Seconds each shown panel stays (0: until a key press).
        max_samples (int, optional): Stop after this many samples (default: all).

    Returns:
        List[str]: The files written (empty without ``output_dir``).

    Raises:
        ValueError: Neither ``output_dir`` nor ``show`` (nothing would be drawn), or a
            sample is not in the packed format.
    """
    if output_dir is None and not show:
        raise ValueError('browse_dataset: nothing to do; give an output dir or show the '
                         'panels')
    total = len(dataset) if max_samples is None else min(len(dataset), max_samples)
    width = len(str(max(total - 1, 0)))
    written = []
    for i in range(total):
        item = dataset[i]
        if not isinstance(item, dict) or 'inputs' not in item or 'data_samples' not in item:
            raise ValueError(f'sample {i} of {type(dataset).__name__} is not packed: expected '
                             "dict(inputs, data_samples) (end the pipeline with "
                             "PackMultiTaskInputs), got "
                             f'{sorted(item) if isinstance(item, dict) else type(item).__name__}')
        sample = item['data_samples']
        img_id = str(sample.metainfo.get('img_id', i)).replace('/', '_')
        out_file = (osp.join(output_dir, f'{i:0{width}d}_{img_id}.png')
                    if output_dir is not None else None)
        visualizer.add_datasample(img_id, packed_image(item['inputs']), sample, draw_gt=True,
                                  draw_pred=False, show=show, wait_time=show_interval,
                                  out_file=out_file, add_to_backends=False)
        if out_file is not None:
            written.append(out_file)
    return written
