"""Zero-shot classification of an image folder with a RADIO student's CLIP adaptor.

The student embeds each image through the adaptor head of the CLIP teacher
(``--teacher``); the text tower of that teacher's open_clip model embeds the
prompted class names (open_clip's zero-shot classifier, prompt ensembling);
the nearest class wins.

Example::

    python tools/analysis_tools/zero_shot_classify.py \\
        configs/radio/radio_vit-b_8xb32-300k_in1k-1024x1024.py work_dirs/radio/iter_100000.pth \\
        --data-root data/imagenet/val --classes imagenet \\
        --teacher clip --templates ensemble --img-size 224 --out zs.json
"""
import argparse
import json

import torch

from sakbox.apis import init_model
from sakbox.evaluation.classification import evaluate_zero_shot


def parse_args(argv=None):  # noqa: D103
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--data-root', required=True, help='folder of <class>/<image> files')
    p.add_argument('--classes',
                   help="class names: a file (one per line, in sorted-folder order) or "
                   "'imagenet' (open_clip's IMAGENET_CLASSNAMES; the default for the 1000 "
                   'WordNet-id folders of ImageNet-1k)')
    p.add_argument('--teacher', default='clip', help='name of the CLIP teacher in the config')
    p.add_argument('--templates', default='ensemble',
                   help="'simple' / 'ensemble' (open_clip's SIMPLE_IMAGENET_TEMPLATES / "
                   "OPENAI_IMAGENET_TEMPLATES) or a file of templates with {}")
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--out', help='write accuracies and per-image predictions as JSON')
    return p.parse_args(argv)


def main(argv=None) -> dict:
    """Run the evaluation; return ``dict(top1, top5, predictions, ...)``."""
    args = parse_args(argv)
    model = init_model(args.config, args.checkpoint, device=args.device)
    result = evaluate_zero_shot(model, args.data_root, teacher=args.teacher,
                                classes=args.classes, templates=args.templates,
                                img_size=args.img_size, batch_size=args.batch_size,
                                device=args.device)
    print(f'zero-shot top-1 {result["top1"]:.2f}%  top-5 {result["top5"]:.2f}%  '
          f'({result["num_images"]} images, {result["num_classes"]} classes)')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
