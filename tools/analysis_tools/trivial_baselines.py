"""Compare a model's metrics with trivial predictors on the same evaluation set.

Two predictors, fitted on the config's *training* split and scored on its
val (or test) split, both read through the dataset's evaluation pipeline:

* **majority class** — every pixel gets the most frequent training class →
  ``semseg/mIoU`` with the project's definition
  (:mod:`sakbox.evaluation.functional.segmentation`: dataset-level confusion,
  ignore 255, percent);
* **mean depth** — every pixel gets the training mean of the valid depth →
  ``depth/RMSE`` pooled over the valid pixels
  (:mod:`sakbox.evaluation.functional.depth`).

With ``--metrics`` (the JSON that ``tools/test.py`` writes, ``{"metrics":
{...}}``) it prints the model next to them and says whether
"semseg mIoU >= 2x majority" and "depth RMSE <= 0.7x mean-depth" hold. It only
reports: the exit code is 0 either way. The logic lives in
:mod:`sakbox.evaluation.baselines.trivial`.

Example::

    python tools/test.py configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py ckpt.pth \
        --work-dir wd
    python tools/analysis_tools/trivial_baselines.py \
        configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py --metrics wd/metrics.json
"""
import argparse
import os.path as osp
import sys
from typing import Dict

from mmengine.config import Config, DictAction

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

from sakbox.evaluation.baselines import report_trivial_baselines, trivial_baselines  # noqa: E402
from sakbox.evaluation.metric_files import load_metrics  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--metrics', help='metrics JSON written by tools/test.py')
    parser.add_argument('--split', choices=['val', 'test'], default='val',
                        help='evaluation split: the config\'s val or test dataloader')
    parser.add_argument('--absent-class-iou', choices=['auto', 'zero', 'ignore'],
                        default='auto',
                        help='how classes absent from GT and prediction enter the mean IoU; '
                        'auto: as the config\'s evaluator (else the metric\'s default)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='config overrides, e.g. val_dataloader.dataset.data_root=data/x')
    return parser.parse_args(argv)


def main(argv=None) -> Dict[str, object]:
    """Entry point; returns ``dict(baselines=..., model=..., checks=...)``."""
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    res = trivial_baselines(cfg, args.split, args.absent_class_iou)
    baselines = res['baselines']
    if 'majority_class' in res:
        name = res['majority_class_name']
        name = f' ({name})' if name is not None else ''
        print(f'majority class: {res["majority_class"]}{name}; classes absent from GT and '
              f'prediction count in the mIoU as: {res["absent_class_iou"]}')
    if 'mean_depth' in res:
        print(f'mean training depth: {res["mean_depth"]:.4f} m')
    if not baselines:
        print(f'no semseg or depth task in {args.config} (tasks: {res["tasks"]})')
    model = load_metrics(args.metrics) if args.metrics else {}
    text, checks = report_trivial_baselines(baselines, model)
    print(f'train: {res["num_train"]} images, {args.split}: {res["num_eval"]} images')
    print(text, flush=True)
    return dict(baselines=baselines, model=model, checks=checks)


if __name__ == '__main__':
    main()
