"""k-NN classification (DINO-style weighted voting) with RADIO student embeddings.

Example::

    python tools/analysis_tools/knn_classify.py \\
        configs/radio/radio_vit-b_8xb32-300k_in1k-1024x1024.py \\
        work_dirs/radio/iter_100000.pth --train-root data/imagenet/train \\
        --val-root data/imagenet/val --feature summary --k 20 --temperature 0.07
"""
import argparse
import json

import torch

from sakbox.apis import init_model
from sakbox.evaluation.classification import evaluate_knn


def parse_args(argv=None):  # noqa: D103
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--train-root', required=True, help='<class>/<image> folder (memory bank)')
    p.add_argument('--val-root', required=True, help='<class>/<image> folder to classify')
    p.add_argument('--feature', default='summary',
                   help="'summary' (official backbone summary), 'summary:all', 'features', "
                        "'summary:<teacher>' or 'adaptor:<teacher>'")
    p.add_argument('--k', type=int, default=20)
    p.add_argument('--temperature', type=float, default=0.07)
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--max-train', type=int, help='use at most this many training images')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--out', help='write the accuracies as JSON')
    return p.parse_args(argv)


def main(argv=None) -> dict:
    """Run the evaluation; return ``dict(top1, top5, ...)``."""
    args = parse_args(argv)
    model = init_model(args.config, args.checkpoint, device=args.device)
    result = evaluate_knn(model, args.train_root, args.val_root, feature=args.feature, k=args.k,
                          temperature=args.temperature, img_size=args.img_size,
                          batch_size=args.batch_size, max_train=args.max_train)
    print(f'kNN (k={args.k}, T={args.temperature}, {args.feature}): top-1 {result["top1"]:.2f}% '
          f'top-5 {result["top5"]:.2f}%')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
