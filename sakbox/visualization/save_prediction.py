"""Saving one prediction as images: the panel and each task alone, colour-mapped."""
import os.path as osp

import mmcv

from .multitask_visualizer import MultiTaskVisualizer

__all__ = ['save_prediction']


def save_prediction(img_path: str, data_sample, out_dir: str, dataset_meta=None,
                    depth_cmap: str = 'viridis', show: bool = False) -> dict:
    """Draw and save the panel and per-task images of one prediction.

    Args:
        img_path: The input image file.
        data_sample: A :class:`~sakbox.structures.MultiTaskDataSample` with ``pred_<task>``
            fields at the image's size.
        out_dir: Output directory.
        dataset_meta: Dataset meta with ``palette`` / ``<task>_palette`` (optional).
        depth_cmap: Matplotlib colour map of depth.
        show: Also show the panel in a window.

    Returns:
        dict: ``{'panel': path, '<task>': path, ...}`` of the written files.
    """
    name = osp.splitext(osp.basename(img_path))[0]
    vis = MultiTaskVisualizer(name=f'image_demo_{name}', depth_cmap=depth_cmap)
    vis.set_dataset_meta(dataset_meta)
    image = mmcv.imread(img_path, channel_order='rgb')
    written = dict(panel=osp.join(out_dir, f'{name}.png'))
    vis.add_datasample(name, image, data_sample, draw_gt=False, draw_pred=True, show=show,
                       out_file=written['panel'])
    for key, tile in vis.task_images(data_sample, draw_gt=False).items():
        task = key[len('pred_'):]
        written[task] = osp.join(out_dir, task, f'{name}.png')
        mmcv.imwrite(mmcv.rgb2bgr(tile), written[task])
    return written
