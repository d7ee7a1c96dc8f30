"""Run a sakbox model on one image and save the coloured predictions of every task.

Writes ``<out-dir>/<name>.png`` (the panel: input | prediction per task) and
``<out-dir>/<task>/<name>.png`` (each task alone, colour-mapped), where
``<name>`` is the image file name without its extension.

Example::

    python demo/image_demo.py demo/demo.png \
        configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py \
        work_dirs/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128/iter_600.pth \
        --out-dir vis --device cpu

The checkpoint must fit the config's model exactly (see ``sakbox.apis.init_model``);
``--non-strict`` runs with what fits, after a warning.
"""
import argparse
import os.path as osp
import sys

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


def main(argv=None) -> dict:
    """Entry point; returns the written files."""
    args = parse_args(argv)
    if not osp.isfile(args.img):
        raise FileNotFoundError(f'image not found: {args.img}')
    from sakbox.apis import inference_model, init_model
    from sakbox.apis.dataset_meta import model_dataset_meta
    from sakbox.visualization.save_prediction import save_prediction

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
