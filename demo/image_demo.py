"""Run a sakbox model on one image and save the coloured predictions of every task.

Writes ``<out-dir>/<name>.png`` (the panel: input | prediction per task) and
``<out-dir>/<task>/<name>.png`` (each task alone, colour-mapped), where
``<name>`` is the image file name without its extension.

Example::

    python demo/image_demo.py demo/demo.png configs/sak/sak_vit-tiny_synthetic-nyud.py \
        work_dirs/sak_vit-tiny_synthetic-nyud/iter_600.pth --out-dir vis --device cpu

The checkpoint must fit the config's model exactly (see ``sakbox.apis.init_model``);
``--non-strict`` runs with what fits, after a warning.
"""
import argparse
import os.path as osp
import sys
from typing import Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring)."""
    from sakbox.utils.cli import add_non_strict_arg

    parser = argparse.ArgumentParser(description='sakbox multi-task image demo')
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', required=True, help='directory of the output images')
    parser.add_argument('--device', default=None,
                        help='device, e.g. cpu or cuda:0 (default: cuda:0 if available)')
    parser.add_argument('--depth-cmap', default='viridis', help='matplotlib colour map of depth')
    parser.add_argument('--show', action='store_true', help='also show the panel in a window')
    add_non_strict_arg(parser)
    return parser.parse_args(argv)


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
    import mmcv

    from sakbox.visualization import MultiTaskVisualizer

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


def model_dataset_meta(model) -> Optional[dict]:
    """Class names / palettes for the model's predictions.

    ``model.dataset_meta`` when set, else the ``METAINFO`` of the dataset class
    named by the config's test (or val) dataloader, else None (fixed palette).

    Args:
        model: A model from :func:`sakbox.apis.init_model` (with ``model.cfg``).

    Returns:
        dict or None: The dataset meta.
    """
    meta = getattr(model, 'dataset_meta', None)
    if meta:
        return dict(meta)
    cfg = getattr(model, 'cfg', None)
    for key in ('test_dataloader', 'val_dataloader'):
        ds_type = ((cfg.get(key) or {}).get('dataset') or {}).get('type') if cfg else None
        if ds_type:
            from sakbox.registry import DATASETS
            try:
                return dict(getattr(DATASETS.get(ds_type), 'METAINFO', None) or {}) or None
            except KeyError:
                return None
    return None


def main(argv=None) -> dict:
    """Entry point; returns the written files."""
    args = parse_args(argv)
    if not osp.isfile(args.img):
        raise FileNotFoundError(f'image not found: {args.img}')
    # Lazy: the model stack is only needed here, not by save_prediction's users.
    from sakbox.apis import inference_model, init_model

    device = args.device
    if device is None:
        import torch
        device = 'cuda:0' if torch.cuda.is_available() else 'cpu'
    model = init_model(args.config, args.checkpoint, device=device, strict=not args.non_strict)
    result = inference_model(model, args.img)
    if isinstance(result, (list, tuple)):
        result = result[0]
    written = save_prediction(args.img, result, args.out_dir,
                              dataset_meta=model_dataset_meta(model),
                              depth_cmap=args.depth_cmap, show=args.show)
    for key, path in written.items():
        print(f'{key}: {path}')
    return written


if __name__ == '__main__':
    from sakbox.utils.cli import run_cli
    run_cli(main, 'demo/image_demo.py')
